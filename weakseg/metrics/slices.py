"""Per-slice metrics of paper 002 (GAN + seeds): smoothed slice Dice and slice-presence classification.

Paper 002 scores every 2D axial slice with the *smoothed* Dice
``(2|P∩G| + s) / (|P| + |G| + s)`` with ``s = 1`` and averages over all slices (its Fig. 14:
an empty prediction against a 7-pixel truth scores 1/8; empty/empty scores 1). That mean is
inflated by tumour-free slices, so the mean over slices whose truth is non-empty is
reported beside it. Slices are taken along array axis 0, which for SimpleITK arrays (z, y, x)
is the image's third index (axial for BraTS). The paper evaluates against the *un-eroded*
truth; erosion is only for deriving weak labels.

Slice classification compares per-slice presence (any voxel) of prediction and truth:
the classifier metrics of the paper's Table 2 (sensitivity, specificity, accuracy; AUC
when per-slice scores are given).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

SMOOTH = 1.0
"""Paper 002's smoothing constant, inferred from its Fig. 14 (see docs/methods/gan-seeds.md §4.1)."""


def _per_slice_counts(mask: np.ndarray, axis: int) -> np.ndarray:
    mask = np.moveaxis(np.asarray(mask, dtype=bool), axis, 0)
    return mask.reshape(mask.shape[0], -1).sum(axis=1)


def slice_dice(pred: np.ndarray, truth: np.ndarray, *, axis: int = 0, smooth: float = SMOOTH) -> np.ndarray:
    """Smoothed Dice of each slice along ``axis``: an array with one value per slice."""
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {truth.shape}")
    inter = _per_slice_counts(pred & truth, axis)
    total = _per_slice_counts(pred, axis) + _per_slice_counts(truth, axis)
    return (2.0 * inter + smooth) / (total + smooth)


def slice_presence(mask: np.ndarray, *, axis: int = 0, min_voxels: int = 1) -> np.ndarray:
    """True for each slice along ``axis`` holding at least ``min_voxels`` mask voxels."""
    return _per_slice_counts(mask, axis) >= min_voxels


def slice_dice_summary(pred: np.ndarray, truth: np.ndarray, *, axis: int = 0, smooth: float = SMOOTH) -> dict[str, float]:
    """Mean smoothed slice Dice over all slices (paper 002's number) and over tumour slices only.

    ``slice_dice_tumour`` is NaN when the truth has no non-empty slice.
    """
    per_slice = slice_dice(pred, truth, axis=axis, smooth=smooth)
    tumour = slice_presence(truth, axis=axis)
    return {
        "slice_dice": float(per_slice.mean()),
        "slice_dice_tumour": float(per_slice[tumour].mean()) if tumour.any() else float("nan"),
    }


def slice_classification(pred_present: np.ndarray, truth_present: np.ndarray,
                         scores: np.ndarray | None = None) -> dict[str, float]:
    """Slice-level sensitivity, specificity and accuracy of presence; AUC when ``scores`` are given.

    A ratio with an empty denominator (no positive or no negative slice) is NaN.
    """
    p = np.asarray(pred_present, dtype=bool).ravel()
    t = np.asarray(truth_present, dtype=bool).ravel()
    if p.shape != t.shape:
        raise ValueError(f"slice counts differ: {p.size} vs {t.size}")
    tp, fp = int(np.sum(p & t)), int(np.sum(p & ~t))
    fn, tn = int(np.sum(~p & t)), int(np.sum(~p & ~t))
    nan = float("nan")
    out = {
        "slices": int(p.size), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "sensitivity": tp / (tp + fn) if tp + fn else nan,
        "specificity": tn / (tn + fp) if tn + fp else nan,
        "accuracy": (tp + tn) / p.size if p.size else nan,
    }
    if scores is not None:
        out["auc"] = slice_auc(scores, t)
    return out


def slice_auc(scores: np.ndarray, truth_present: np.ndarray) -> float:
    """ROC AUC of per-slice scores, via the Mann–Whitney U statistic (ties count half)."""
    s = np.asarray(scores, dtype=float).ravel()
    t = np.asarray(truth_present, dtype=bool).ravel()
    if s.shape != t.shape:
        raise ValueError(f"slice counts differ: {s.size} vs {t.size}")
    if t.all() or not t.any():
        return float("nan")
    u = stats.mannwhitneyu(s[t], s[~t], alternative="two-sided").statistic
    return float(u) / (int(t.sum()) * int((~t).sum()))
