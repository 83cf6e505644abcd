"""Overlap metrics: hand-checked counts, SimpleITK's LabelOverlapMeasures as an independent check, empty masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.metrics import confusion, overlap_metrics


def _two_boxes():
    # truth: 4x4x4 = 64 voxels at [2:6]^3; pred: the same box shifted by 1 along x -> 48 shared voxels.
    truth = np.zeros((8, 8, 8), bool)
    truth[2:6, 2:6, 2:6] = True
    pred = np.zeros_like(truth)
    pred[2:6, 2:6, 3:7] = True
    return pred, truth


def test_hand_checked_box_pair():
    pred, truth = _two_boxes()
    c = confusion(pred, truth)
    assert (c.tp, c.fp, c.fn, c.tn) == (48, 16, 16, 512 - 80)
    m = overlap_metrics(pred, truth, voxel_ml=0.002)  # 2 mm^3 voxels
    assert m["dice"] == pytest.approx(2 * 48 / 128)  # 0.75
    assert m["sensitivity"] == pytest.approx(48 / 64)
    assert m["precision"] == pytest.approx(48 / 64)
    assert m["specificity"] == pytest.approx(432 / 448)
    assert m["vol_pred_ml"] == pytest.approx(64 * 0.002)
    assert m["vol_diff_ml"] == pytest.approx(0.0)


def test_volume_difference_signed_and_relative():
    truth = np.zeros((5, 5, 5), bool)
    truth[1:3, 1:3, 1:3] = True  # 8 voxels
    pred = truth.copy()
    pred[3, 1:3, 1:3] = True  # 12 voxels, superset
    m = overlap_metrics(pred, truth, voxel_ml=0.5)
    assert m["vol_diff_ml"] == pytest.approx(4 * 0.5)
    assert m["vol_diff_rel"] == pytest.approx(0.5)
    assert m["sensitivity"] == 1.0 and m["precision"] == pytest.approx(8 / 12)
    assert overlap_metrics(truth, pred)["vol_diff_rel"] == pytest.approx(-4 / 12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_simpleitk_label_overlap(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random((9, 11, 13)) < 0.4
    pred = rng.random((9, 11, 13)) < 0.25
    m = overlap_metrics(pred, truth)
    p_img, t_img = (sitk.GetImageFromArray(x.astype(np.uint8)) for x in (pred, truth))
    f = sitk.LabelOverlapMeasuresImageFilter()
    # ITK's Execute(source, target): FalseNegativeError = |target \ source| / |target|,
    # FalsePositiveError = |source \ target| / |background of target| (a false-positive rate).
    f.Execute(p_img, t_img)
    assert m["dice"] == pytest.approx(f.GetDiceCoefficient())
    assert m["sensitivity"] == pytest.approx(1 - f.GetFalseNegativeError())
    assert m["specificity"] == pytest.approx(1 - f.GetFalsePositiveError())
    f.Execute(t_img, p_img)  # roles swapped: |pred \ truth| / |pred| = 1 - precision
    assert m["precision"] == pytest.approx(1 - f.GetFalseNegativeError())


def test_empty_masks_follow_the_documented_convention():
    empty = np.zeros((4, 4, 4), bool)
    full = empty.copy()
    full[1:3, 1:3, 1:3] = True
    both = overlap_metrics(empty, empty)
    assert (both["dice"], both["sensitivity"], both["precision"], both["vol_diff_rel"]) == (1.0, 1.0, 1.0, 0.0)
    missed = overlap_metrics(empty, full)  # prediction empty, truth not
    assert missed["dice"] == 0.0 and missed["sensitivity"] == 0.0 and math.isnan(missed["precision"])
    assert missed["vol_diff_rel"] == -1.0
    spurious = overlap_metrics(full, empty)  # truth empty, prediction not
    assert spurious["dice"] == 0.0 and spurious["precision"] == 0.0
    assert math.isnan(spurious["sensitivity"]) and math.isnan(spurious["vol_diff_rel"])


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shapes differ"):
        confusion(np.zeros((2, 2, 2), bool), np.zeros((2, 2, 3), bool))
