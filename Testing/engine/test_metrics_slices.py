"""Paper 002's per-slice metrics: smoothed slice Dice (its Fig. 14 numbers) and slice classification."""

from __future__ import annotations

import math

import numpy as np
import pytest

from weakseg.metrics import slice_auc, slice_classification, slice_dice, slice_dice_summary, slice_presence


def _volume():
    # 4 axial slices of 6x6: slice 0 empty in both; slice 1 truth 7 px, prediction empty (paper 002
    # Fig. 14: smoothed Dice (0+1)/(7+1) = 0.125); slice 2 truth 4 px, prediction 4 px, 2 shared ->
    # (2*2+1)/(8+1) = 5/9; slice 3 prediction 3 px, truth empty -> 1/(3+1) = 0.25.
    pred = np.zeros((4, 6, 6), bool)
    truth = np.zeros_like(pred)
    truth[1, 0, :6] = True
    truth[1, 1, 0] = True
    truth[2, 2, 1:5] = True
    pred[2, 2, 3:5] = True
    pred[2, 3, 3:5] = True
    pred[3, 5, :3] = True
    return pred, truth


def test_smoothed_slice_dice_hand_checked():
    pred, truth = _volume()
    assert slice_dice(pred, truth) == pytest.approx([1.0, 0.125, 5 / 9, 0.25])
    summary = slice_dice_summary(pred, truth)
    assert summary["slice_dice"] == pytest.approx((1 + 0.125 + 5 / 9 + 0.25) / 4)
    assert summary["slice_dice_tumour"] == pytest.approx((0.125 + 5 / 9) / 2)  # slices 1 and 2 hold truth


def test_slice_dice_along_another_axis_and_without_smoothing():
    pred, truth = _volume()
    # Moving the slice axis last and asking for axis=2 gives the same per-slice values.
    assert slice_dice(np.moveaxis(pred, 0, 2), np.moveaxis(truth, 0, 2), axis=2) == pytest.approx(slice_dice(pred, truth))
    # With smooth=0 the slice with both empty is 0/0: the smoothing is what makes it 1.
    with np.errstate(invalid="ignore"):
        raw = slice_dice(pred, truth, smooth=0.0)
    assert math.isnan(raw[0]) and raw[2] == pytest.approx(4 / 8)


def test_slice_dice_tumour_is_nan_without_truth():
    empty = np.zeros((3, 4, 4), bool)
    assert math.isnan(slice_dice_summary(empty, empty)["slice_dice_tumour"])
    assert slice_dice_summary(empty, empty)["slice_dice"] == 1.0


def test_slice_classification_hand_checked():
    pred, truth = _volume()
    p, t = slice_presence(pred), slice_presence(truth)
    assert p.tolist() == [False, False, True, True] and t.tolist() == [False, True, True, False]
    m = slice_classification(p, t)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 1, 1)
    assert m["sensitivity"] == 0.5 and m["specificity"] == 0.5 and m["accuracy"] == 0.5
    assert slice_presence(truth, min_voxels=5).tolist() == [False, True, False, False]


def test_slice_auc_hand_checked_and_against_sklearn():
    # Positives score 0.35 and 0.8, negatives 0.1 and 0.4: of the 4 (pos, neg) pairs 3 are ordered right.
    scores, truth = np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True])
    assert slice_auc(scores, truth) == pytest.approx(0.75)
    assert slice_classification(scores > 0.5, truth, scores)["auc"] == pytest.approx(0.75)
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    s = rng.random(60).round(1)  # ties
    t = rng.random(60) < 0.4
    assert slice_auc(s, t) == pytest.approx(sklearn_metrics.roc_auc_score(t, s))
    assert math.isnan(slice_auc(s, np.ones(60, bool)))
