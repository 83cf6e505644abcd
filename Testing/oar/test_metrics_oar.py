"""The thesis's all-voxel mean distance (eq. 4.1), Hausdorff and 1-voxel-tolerant scores, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from weakseg.metrics import hausdorff, mean_distance, tolerant_scores


def test_mean_distance_counts_every_voxel_not_the_surface():
    a = np.zeros((1, 1, 10), bool)
    b = a.copy()
    a[0, 0, 0:4] = True
    b[0, 0, 0:5] = True  # one extra voxel 1 voxel away from A
    assert mean_distance(a, b) == pytest.approx(1 / 9)
    assert mean_distance(a, b, (1, 1, 2.0)) == pytest.approx(2 / 9)  # mm along x
    assert hausdorff(a, b, (1, 1, 2.0)) == pytest.approx(2.0)
    assert mean_distance(a, a) == 0.0 and mean_distance(a & False, b & False) == 0.0
    assert mean_distance(a, np.zeros_like(a)) == float("inf")


def test_mean_distance_of_two_shifted_cubes():
    a = np.zeros((20, 20, 20), bool)
    a[5:10, 5:10, 5:10] = True
    b = np.roll(a, 2, axis=2)
    # 3 of 5 columns overlap (distance 0); the 2 non-overlapping columns of each lie 1 and 2 voxels away
    assert mean_distance(a, b) == pytest.approx((2 * 25 * (1 + 2)) / 250)
    assert hausdorff(a, b) == pytest.approx(2.0)


def test_tolerance_ignores_touching_false_positives_and_border_misses():
    truth = np.zeros((9, 9, 9), bool)
    truth[2:7, 2:7, 2:7] = True
    grown = np.zeros_like(truth)
    grown[1:8, 1:8, 1:8] = True  # one voxel too big all round: every FP touches the truth
    scores = tolerant_scores(grown, truth)
    assert scores["dice_tol"] == 1.0 and scores["ppv_tol"] == 1.0
    shrunk = np.zeros_like(truth)
    shrunk[3:6, 3:6, 3:6] = True  # misses exactly the border layer
    assert tolerant_scores(shrunk, truth)["sensitivity_tol"] == 1.0
    far = np.zeros_like(truth)
    far[0, 0, 0] = True
    assert tolerant_scores(far | truth, truth)["ppv_tol"] == pytest.approx(125 / 126)
    assert tolerant_scores(truth & False, truth & False)["dice_tol"] == 1.0
