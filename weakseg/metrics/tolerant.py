"""Dice, sensitivity and PPV with the thesis's 1-voxel tolerance (§4.5, §5.6).

A false positive that touches the ground truth (in ``dilate(GT) \\ GT``, 26-neighbourhood) and a
false negative on its border (in ``GT \\ erode(GT)``) are ignored; every true positive counts. The thesis
calls the third column "specificity" but it behaves like precision, so it is reported as PPV.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def tolerant_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """{'dice_tol', 'sensitivity_tol', 'ppv_tol'}; 1.0 when both masks are empty, 0.0 when one is."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if not pred.any() and not truth.any():
        return {"dice_tol": 1.0, "sensitivity_tol": 1.0, "ppv_tol": 1.0}
    touching = ndimage.generate_binary_structure(truth.ndim, truth.ndim)  # faces, edges and corners
    outer = ndimage.binary_dilation(truth, touching) & ~truth
    inner = truth & ~ndimage.binary_erosion(truth, touching)
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth & ~outer).sum())
    fn = int((~pred & truth & ~inner).sum())
    ratio = lambda num, den: float(num / den) if den else 0.0  # noqa: E731
    return {"dice_tol": ratio(2 * tp, 2 * tp + fp + fn), "sensitivity_tol": ratio(tp, tp + fn),
            "ppv_tol": ratio(tp, tp + fp)}
