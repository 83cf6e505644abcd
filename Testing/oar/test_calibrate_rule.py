"""experiments/oar_calibrate.py's threshold rule: the best vote Dice, or the lowest threshold near it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from experiments.oar_calibrate import GRID, choose  # noqa: E402


def test_the_best_threshold_or_the_lowest_within_the_tolerance():
    flat = np.array([0.50, 0.70, 0.80, 0.850, 0.854, 0.860, 0.8625, 0.865, 0.865, 0.86])  # over-confident: flat near 1
    assert choose(flat) == GRID[7]  # the first of the tied best
    assert choose(flat, 0.01) == GRID[5]  # 0.860 >= 0.865 - 0.01; 0.854 is not
    assert choose(flat, 0.5) == GRID[0]
    peaked = np.array([0.2, 0.9, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1])
    assert choose(peaked, 0.01) == choose(peaked) == GRID[1]  # a clear optimum is kept
