"""OAR patch deformation: labels move exactly with their image, no padding reaches the patch, options checked."""

from __future__ import annotations

import numpy as np
import pytest

from weakseg.errors import WeakSegError
from weakseg.methods.oar import build_method
from weakseg.methods.oar.warp import margin_size, spatial_config, warp_patch
from weakseg.oar.classes import CLASSES
from weakseg.phantom.label_sources import phantom_volume

STRONG = spatial_config({"p_rotate": 1.0, "rotate_degrees": 45.0, "p_scale": 1.0, "scale_range": [0.85, 1.15],
                         "p_elastic": 1.0})


def _blocks(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generation labels 1..4 in quadrants (no air), class bits on a square, an image 100 × bits + gen."""
    gen = np.ones((size, size), np.uint8)
    gen[size // 2:, :] += 1
    gen[:, size // 2:] += 2
    bits = np.zeros((size, size), np.uint8)
    bits[size // 3: 2 * size // 3, size // 4: size // 2] = 5
    return gen, bits, (100.0 * bits + gen).astype(np.float32)


def test_without_deformation_the_patch_is_the_centre_of_the_cut():
    gen, bits, image = _blocks(40)
    off = spatial_config({"p_rotate": 0.0, "p_scale": 0.0, "p_elastic": 0.0})
    warped_image, (g, b) = warp_patch(image, [gen, bits], 20, off, np.random.default_rng(0))
    assert np.allclose(warped_image, image[10:30, 10:30], atol=1e-4)
    assert np.array_equal(g, gen[10:30, 10:30]) and np.array_equal(b, bits[10:30, 10:30])


@pytest.mark.parametrize("seed", range(5))
def test_labels_move_with_their_image_and_the_margin_keeps_padding_out(seed):
    patch = 32
    side = margin_size(patch, STRONG)
    assert side >= patch * np.sqrt(2) * 1.15
    gen, bits, image = _blocks(side)
    warped_image, (g, b) = warp_patch(image, [gen, bits], patch, STRONG, np.random.default_rng(seed))
    assert g.shape == b.shape == warped_image.shape == (patch, patch)
    assert g.min() >= 1, "a zero (padding) generation label reached the patch"
    pairs_in = set(zip(gen.ravel(), bits.ravel()))
    assert set(zip(g.ravel(), b.ravel())) <= pairs_in  # nearest neighbour: only combinations that exist
    flat = np.isclose(warped_image, np.round(warped_image), atol=1e-3) & np.isin(np.round(warped_image), [1, 2, 3, 4, 501, 502, 503, 504])
    assert flat.mean() > 0.5  # most pixels lie inside a region, away from the bilinear edges
    assert np.array_equal((np.round(warped_image[flat]) > 100) * 5, b[flat])  # ...and there labels match the image
    assert not np.array_equal(b, bits[(side - patch) // 2:][:patch, (side - patch) // 2:][:, :patch])  # it moved


def test_batches_with_deformation_keep_every_class_centred_and_valid_labels():
    method = build_method({"patch": 64, "batch": 10, "base": 4, "depth": 2, "strip_fraction": 0.0,
                           "spatial": {"p_rotate": 1.0, "p_scale": 1.0, "p_elastic": 1.0}})
    network = method.build_network()
    method.prepare([phantom_volume(3)], network)
    batch = method.draw_batch(np.random.default_rng(0))
    images, labels = batch["images"], batch["labels"]
    assert images.shape == (10, 1, 64, 64) and set(np.unique(labels.numpy())) <= {-1, 0, 1}
    brain = CLASSES.index("brain")
    # rotation and zoom turn about the patch centre, so the class a patch is centred on stays in it
    assert [CLASSES[c] for c in range(brain) if labels[c, c].max() != 1] == []
    loss, parts = method.loss(network, batch)
    assert np.isfinite(parts["loss"]) and loss.requires_grad


def test_spatial_options_are_checked_before_training():
    with pytest.raises(WeakSegError, match="unknown augmentation option"):
        build_method({"spatial": {"p_rotation": 0.5}})
    with pytest.raises(WeakSegError, match="must be in"):
        build_method({"spatial": {"p_rotate": 2}})
    with pytest.raises(WeakSegError, match="spatial must be an object"):
        build_method({"spatial": 1})
    assert build_method({}).spatial is None  # off unless asked: the models shipped before it train the same
