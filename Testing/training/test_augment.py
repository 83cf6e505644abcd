"""Augmentation keeps images and label maps aligned, is reproducible, and leaves the background at 0."""

from __future__ import annotations

import torch

from weakseg.training.augment import AugmentConfig, augment

SPATIAL = AugmentConfig(p_flip=1.0, p_rotate=1.0, p_scale=1.0, p_elastic=1.0, elastic_magnitude=0.05,
                        p_gamma=0.0, p_noise=0.0, p_intensity=0.0)
NONE = AugmentConfig(p_flip=0.0, p_rotate=0.0, p_scale=0.0, p_elastic=0.0, p_gamma=0.0, p_noise=0.0, p_intensity=0.0)


def _blobs(batch=6, size=48, ndim=2, seed=0):
    """Label maps of random rectangles (classes 1..3) inside a disc 'brain'; image channel 0 = 10 x label."""
    g = torch.Generator().manual_seed(seed)
    shape = (batch, *([size] * ndim))
    masks = torch.zeros(shape, dtype=torch.int64)
    for b in range(batch):
        for c in (1, 2, 3):
            lo = torch.randint(6, size // 2, (ndim,), generator=g)
            hi = lo + torch.randint(4, size // 3, (ndim,), generator=g)
            masks[(b, *[slice(int(l), int(h)) for l, h in zip(lo, hi)])] = c
    grids = torch.meshgrid(*[torch.arange(size, dtype=torch.float32) - size / 2 + 0.5] * ndim, indexing="ij")
    brain = (sum(x ** 2 for x in grids) < (0.45 * size) ** 2).float()
    masks = masks * (brain > 0)
    brain = brain.expand(masks.shape)
    images = torch.stack([10.0 * masks.float() + brain, brain * 2.0], 1)  # brain > 0 everywhere inside the disc
    return images, masks


def test_spatial_augmentation_moves_labels_with_their_image_2d_and_3d():
    for ndim, size in ((2, 48), (3, 24)):
        images, masks = _blobs(ndim=ndim, size=size)
        out, out_masks = augment(images, masks, SPATIAL, torch.Generator().manual_seed(3))
        assert out.shape == images.shape and out_masks.shape == masks.shape and out_masks.dtype == masks.dtype
        assert not torch.equal(out_masks, masks)  # something moved
        # the image channel encodes the label: decoding it from the resampled image gives the resampled label
        decoded = torch.clamp(((out[:, 0] - out[:, 1] / 2) / 10).round(), 0, 3).long()
        agree = (decoded == out_masks).float().mean().item()
        assert agree > 0.95, (ndim, agree)  # only bilinear blending at label borders differs
        assert set(out_masks.unique().tolist()) <= {0, 1, 2, 3}


def test_flip_alone_is_an_exact_mirror_and_identity_changes_nothing():
    images, masks = _blobs()
    flip = AugmentConfig(p_flip=1.0, p_rotate=0.0, p_scale=0.0, p_elastic=0.0, p_gamma=0.0, p_noise=0.0, p_intensity=0.0)
    out, out_masks = augment(images, masks, flip, torch.Generator().manual_seed(0))
    assert torch.equal(out_masks, torch.flip(masks, (-1,)))
    assert torch.allclose(out, torch.flip(images, (-1,)), atol=1e-5)
    same, same_masks = augment(images, masks, NONE, torch.Generator().manual_seed(0))
    assert torch.equal(same_masks, masks) and torch.allclose(same, images, atol=1e-5)


def test_intensity_changes_keep_labels_and_background():
    images, masks = _blobs()
    intensity = AugmentConfig(p_flip=0.0, p_rotate=0.0, p_scale=0.0, p_elastic=0.0, p_gamma=1.0, p_noise=1.0,
                              p_intensity=1.0)
    out, out_masks = augment(images, masks, intensity, torch.Generator().manual_seed(1))
    assert torch.equal(out_masks, masks)
    background = (images == 0).all(1)
    assert (out[background.unsqueeze(1).expand_as(out)] == 0).all()
    assert not torch.allclose(out, images)


def test_same_seed_same_augmentation_and_only_masked_samples_need_labels():
    images, masks = _blobs(batch=6)
    a = augment(images, masks[:4], SPATIAL, torch.Generator().manual_seed(5))
    b = augment(images, masks[:4], SPATIAL, torch.Generator().manual_seed(5))
    c = augment(images, masks[:4], SPATIAL, torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[1].shape[0] == 4
    assert not torch.equal(a[1], c[1])
