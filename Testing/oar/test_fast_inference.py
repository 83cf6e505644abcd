"""The fast OAR inference path computes what the shipped model computed on the whole grid.

Cropping to the head (aligned to the network's pooling grid) and folding batch norm into the
convolutions are speed-ups only: on a phantom head, through the shipped model, the votes of
every class must match the uncropped, unfolded reference.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from weakseg.inference.engine import InferenceConfig
from weakseg.inference.fast_network import InferenceNetwork, fold_batchnorm
from weakseg.methods.oar.sampling import PLANE_AXES
from weakseg.methods.oar.windows import WindowConfig, aligned_window, head_extent, put, slice_windows, take
from weakseg.oar.classes import CLASSES
from weakseg.oar.intensity import normalise_head
from weakseg.phantom.config import PhantomConfig
from weakseg.phantom.head_oar import make_head_case

predict = importlib.import_module("weakseg.methods.oar.case_prediction")


@pytest.mark.parametrize("size", [155, 160, 171, 240])
def test_aligned_window_keeps_the_engines_pooling_grid(size):
    front = ((-size) % 16) // 2
    for lo, hi in [(0, size), (3, 50), (17, size - 5), (size - 1, size)]:
        start, stop = aligned_window(lo, hi, size, 16)
        assert start <= lo and stop >= hi, "the window covers the head"
        assert (start + front) % 16 == 0 and (stop - start) % 16 == 0, "pooling cells as in the centre-padded slice"
        assert -front <= start and stop <= size + (-size) % 16 - front, "never beyond the engine's own padding"


def test_take_and_put_round_trip_with_zero_outside():
    rng = np.random.default_rng(0)
    array = rng.random((5, 7, 9)).astype(np.float32)
    windows = ((1, 4), (-2, 7), (3, 12))
    cut = take(array, windows)
    assert cut.shape == (3, 9, 9)
    assert np.all(cut[:, :2] == 0) and np.all(cut[:, :, 6:] == 0)
    np.testing.assert_array_equal(cut[:, 2:, :6], array[1:4, :, 3:])
    back = np.zeros((2, *array.shape), np.float32)
    put(back, np.stack([cut, 2 * cut]), windows)
    np.testing.assert_array_equal(back[1, 1:4, :, 3:], 2 * array[1:4, :, 3:])
    assert back[0].sum() == pytest.approx(array[1:4, :, 3:].sum(), rel=1e-6)


def test_folded_network_gives_the_same_logits():
    from weakseg.models.registry import load_model

    network = load_model("default-oar").network.eval()
    x = torch.rand(2, 1, 64, 80)
    with torch.no_grad():
        reference = network(x)[0]
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fold_batchnorm(network).modules())
        fast = InferenceNetwork(network)(x)[0]
    assert fast.shape == reference.shape and fast.is_contiguous()
    assert float((fast - reference).abs().max()) < 1e-3


@pytest.fixture(scope="module")
def head():
    case = make_head_case(PhantomConfig(seed=7, shape=(78, 120, 120), physiology=False))
    import SimpleITK as sitk

    return normalise_head(sitk.GetArrayFromImage(case.images["t1"])), sitk.GetArrayFromImage(case.labels)


def test_head_extent_holds_every_organ_and_cuts_air(head):
    image, labels = head
    extent = head_extent(image)
    where = np.argwhere(labels > 0)
    for axis, (lo, hi) in enumerate(extent):
        assert lo <= where[:, axis].min() and hi > where[:, axis].max()
    assert np.prod([hi - lo for lo, hi in extent]) < 0.85 * image.size, "the air beside the head is cropped"
    assert head_extent(np.zeros((4, 5, 6), np.float32)) == ((0, 4), (0, 5), (0, 6))


def test_slice_windows_keep_context_beside_the_head_and_few_air_slices():
    extent, shape = ((20, 130), (30, 200), (45, 190)), (155, 240, 240)
    config = WindowConfig(margin=8, slice_margin=2)
    slices, rows, cols = slice_windows(extent, shape, 1, (0, 2), config)
    assert slices == (28, 202)
    assert rows[0] <= 12 and rows[1] >= 138 and (rows[0] + 2) % 16 == 0, "155 is centre-padded by 2 in front"
    assert cols[0] <= 37 and cols[1] >= 198 and cols[0] % 16 == 0 and (cols[1] - cols[0]) % 16 == 0


def test_cropped_votes_match_the_whole_grid_reference(head):
    from weakseg.models.registry import load_model

    model = load_model("default-oar")
    image, _ = head
    config = InferenceConfig(device="cpu", tta=False)
    orientations = model.card.inference["orientations"]
    thresholds = predict.thresholds_of(model.card)
    window = WindowConfig(margin=8)  # 16 mm of context on this 2 mm grid (the default keeps 24 mm); 4 voxels fail

    def voxels(extent, config):
        return sum(np.prod([b - a for a, b in slice_windows(extent, image.shape, axis, plane, config)])
                   for axis, plane in PLANE_AXES.values())

    whole = voxels(tuple((0, n) for n in image.shape), WindowConfig(margin=0, slice_margin=0))
    assert voxels(head_extent(image), window) < 0.9 * whole, "the windows crop this head"
    reference = predict.vote(predict.class_probabilities(model.network, image, orientations, config, window=None),
                             thresholds)
    cropped = predict.vote(predict.class_probabilities(model.network, image, orientations, config, window=window),
                           thresholds)
    for name in CLASSES:
        a, b = reference[name], cropped[name]
        if a.sum() >= 20:
            dice = 2 * np.count_nonzero(a & b) / (a.sum() + b.sum())
            assert dice >= 0.99, f"{name}: Dice {dice:.3f} of cropped vs whole-grid votes"
        else:
            assert b.sum() <= a.sum() + 20, f"{name}: the crop invents voxels"
