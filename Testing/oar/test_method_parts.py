"""The OAR method's parts: partial labels with containment, the class-balanced loss, class-centred patches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weakseg.errors import WeakSegError
from weakseg.methods.oar import build_method
from weakseg.methods.oar.loss import partial_loss
from weakseg.methods.oar.sampling import PLANE_AXES, cut, patch_labels
from weakseg.oar.classes import CLASSES
from weakseg.phantom.label_sources import BIT, OARVolume, phantom_volume


def test_unknown_classes_stay_unknown_and_containment_rebuilds_what_it_can():
    bits = np.zeros((6, 6), np.uint8)
    bits[1:5, 1:5] |= BIT["eye"]
    bits[2:3, 2:4] |= BIT["brainstem"]
    y = patch_labels(bits, ("eye", "brainstem"), [])
    lens, brain, eye = (CLASSES.index(n) for n in ("lens", "brain", "eye"))
    assert (y[lens] == -1).all() and (y[brain] == -1).all() and y[eye].sum() == 16
    y = patch_labels(bits, ("eye", "brainstem"), [("eye", "lens", "outside"), ("brainstem", "brain", "inside")])
    assert (y[lens][bits & BIT["eye"] == 0] == 0).all() and (y[lens][bits & BIT["eye"] > 0] == -1).all()
    assert (y[brain][bits & BIT["brainstem"] > 0] == 1).all() and (y[brain][bits & BIT["brainstem"] == 0] == -1).all()


def test_partial_loss_ignores_unknown_pixels_and_balances_classes():
    logits = torch.zeros(1, len(CLASSES), 4, 4, requires_grad=True)
    labels = torch.full((1, len(CLASSES), 4, 4), -1, dtype=torch.int8)
    labels[0, 0, 0, 0] = 1
    labels[0, 0, 1:] = 0  # 1 positive, 12 negatives: both terms weigh t and 1 - t whatever their counts
    t = torch.full((len(CLASSES),), 0.3)
    loss = partial_loss(logits, labels, t)
    assert loss.item() == pytest.approx(np.log(2) / len(CLASSES), rel=1e-5)
    loss.backward()
    grad = logits.grad[0, 0]
    assert grad[0, 0] == pytest.approx(-0.3 * 0.5 / len(CLASSES), rel=1e-5)  # d/dl of -t log σ(l) at 0
    assert grad[1, 1] == pytest.approx(0.7 * 0.5 / 12 / len(CLASSES), rel=1e-5)
    assert (logits.grad[0, 1:] == 0).all() and (grad[0, 1:] == 0).all()  # unknown pixels teach nothing


def test_cut_pads_outside_the_volume_in_each_orientation():
    volume = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    for orientation, (axis, (a, b)) in PLANE_AXES.items():
        patch = cut(volume, np.array([1, 2, 3]), orientation, 8)
        plane = np.take(volume, [1, 2, 3][axis], axis=axis)
        assert patch.shape == (8, 8)
        assert patch.sum() == plane.sum()  # the whole plane fits, the rest is zero


@pytest.fixture(scope="module")
def small_phantom():
    return phantom_volume(3)


def test_batches_centre_one_patch_on_each_class(small_phantom):
    method = build_method({"patch": 64, "batch": 10, "base": 4, "depth": 2, "strip_fraction": 0.0})
    network = method.build_network()
    pools = method.prepare([small_phantom], network)
    assert all(v == 1 for v in pools.values())
    batch = method.draw_batch(np.random.default_rng(0))
    images, labels = batch["images"], batch["labels"]
    assert images.shape == (10, 1, 64, 64) and labels.shape == (10, len(CLASSES), 64, 64)
    for c in range(len(CLASSES) - 1):  # (a point drawn in the brain's box may miss the brain itself)
        assert labels[c, c].max() == 1, CLASSES[c]  # the patch centred on class c shows class c
    assert float(images.std()) > 0.05
    loss, parts = method.loss(network, batch)
    assert np.isfinite(parts["loss"]) and loss.requires_grad


def test_skull_stripped_patches_show_no_organ_outside_the_brain(small_phantom):
    method = build_method({"patch": 64, "base": 4, "depth": 2, "strip_fraction": 1.0})
    method.prepare([small_phantom], method.build_network())
    batch = method.draw_batch(np.random.default_rng(1))
    eye = CLASSES.index("eye")
    assert batch["labels"][eye, eye].max() == 0  # the eye-centred patch: stripped image, so no eye to find
    assert (batch["images"][eye, 0][batch["labels"][eye, CLASSES.index("brain")] == 0] == 0).float().mean() > 0.9


def test_a_class_no_case_contours_is_refused():
    bits = np.zeros((8, 8, 8), np.uint8)
    bits[2:5, 2:5, 2:5] = BIT["brainstem"]
    volume = OARVolume("only_brainstem", bits, ("brainstem",), image=np.ones((8, 8, 8), np.float16)).finish()
    method = build_method({"base": 4, "depth": 2, "patch": 16})
    with pytest.raises(WeakSegError, match="no training case contours eye"):
        method.prepare([volume], method.build_network())


def test_options_are_checked():
    with pytest.raises(WeakSegError, match="unknown containment rule"):
        build_method({"containment": ["lens/brain"]})
    with pytest.raises(WeakSegError, match="unknown option"):
        build_method({"heads": 3})
