"""Voxel-overlap metrics of two boolean masks: Dice, sensitivity, specificity, precision, volumes.

Empty-mask conventions (as in the BraTS evaluation): when *both* masks are empty the
prediction is perfect, so Dice, sensitivity, specificity and precision are 1. When a ratio's
denominator is empty but the other mask is not (sensitivity with an empty truth, precision
with an empty prediction) the ratio is undefined and reported as NaN; Dice is then 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Confusion:
    """Voxel counts of a prediction against a truth mask."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n_pred(self) -> int:
        return self.tp + self.fp

    @property
    def n_truth(self) -> int:
        return self.tp + self.fn


def confusion(pred: np.ndarray, truth: np.ndarray) -> Confusion:
    """Count TP/FP/FN/TN; both masks must have the same shape."""
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {truth.shape}")
    n_pred = int(np.count_nonzero(pred))
    n_truth = int(np.count_nonzero(truth))
    tp = int(np.count_nonzero(pred & truth))
    fp, fn = n_pred - tp, n_truth - tp
    return Confusion(tp, fp, fn, pred.size - tp - fp - fn)


def _ratio(num: int, den: int, both_empty: bool) -> float:
    if den:
        return num / den
    return 1.0 if both_empty else float("nan")


def dice(c: Confusion) -> float:
    """2|P∩T| / (|P|+|T|); 1 when both masks are empty, 0 when only one is."""
    den = c.n_pred + c.n_truth
    return 2.0 * c.tp / den if den else 1.0


def sensitivity(c: Confusion) -> float:
    """TP/(TP+FN): the fraction of the truth found. NaN when only the truth is empty."""
    return _ratio(c.tp, c.n_truth, c.n_pred == 0)


def precision(c: Confusion) -> float:
    """TP/(TP+FP): the fraction of the prediction that is right. NaN when only the prediction is empty."""
    return _ratio(c.tp, c.n_pred, c.n_truth == 0)


def specificity(c: Confusion) -> float:
    """TN/(TN+FP), as BraTS reports it (dominated by background, so close to 1)."""
    return _ratio(c.tn, c.tn + c.fp, False)


def volumes_ml(c: Confusion, voxel_ml: float) -> dict[str, float]:
    """Predicted and true volume, their difference (pred − truth) in ml and relative to the truth.

    The relative difference is 0 when both are empty and NaN when only the truth is.
    """
    v_pred, v_truth = c.n_pred * voxel_ml, c.n_truth * voxel_ml
    if c.n_truth:
        rel = (c.n_pred - c.n_truth) / c.n_truth
    else:
        rel = 0.0 if c.n_pred == 0 else float("nan")
    return {"vol_pred_ml": v_pred, "vol_truth_ml": v_truth, "vol_diff_ml": v_pred - v_truth, "vol_diff_rel": rel}


def overlap_metrics(pred: np.ndarray, truth: np.ndarray, voxel_ml: float = 0.001) -> dict[str, float]:
    """Every overlap metric of one mask pair; ``voxel_ml`` is one voxel's volume in ml."""
    c = confusion(pred, truth)
    out = {"dice": dice(c), "sensitivity": sensitivity(c), "specificity": specificity(c), "precision": precision(c)}
    out.update(volumes_ml(c, voxel_ml))
    return out
