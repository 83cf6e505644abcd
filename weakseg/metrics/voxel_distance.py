"""The thesis's all-voxel mean distance (eq. 4.1) and Hausdorff distance, in mm.

``M(A, B) = (Σ_{a∈A} d(a, B) + Σ_{b∈B} d(b, A)) / (|A| + |B|)`` runs over *every* voxel of both
masks, not over their surfaces: overlapping voxels contribute 0, which is why the thesis's
values are 0.08-0.7 mm. A surface ASSD (``weakseg.metrics.distance``) is much larger and not
comparable. Distance transforms run on the union box plus a margin wide enough to hold every
nearest voxel, so the result is exact.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from weakseg.metrics.distance import union_box

INF = float("inf")


def _directed(a: np.ndarray, b: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """Distance (mm) of every voxel of ``a`` to the nearest voxel of ``b``."""
    return ndimage.distance_transform_edt(~b, sampling=spacing)[a]


def _prepared(a, b, spacing):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape {a.shape} vs {b.shape}")
    spacing = tuple(float(s) for s in (spacing or (1.0,) * a.ndim))
    box = union_box(a, b)
    return (a[box], b[box], spacing) if box is not None else (a, b, spacing)


def mean_distance(a: np.ndarray, b: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """Eq. 4.1 in mm; 0 when both are empty, inf when exactly one is."""
    a, b, spacing = _prepared(a, b, spacing)
    if not a.any() and not b.any():
        return 0.0
    if not a.any() or not b.any():
        return INF
    total = _directed(a, b, spacing).sum() + _directed(b, a, spacing).sum()
    return float(total / (a.sum() + b.sum()))


def hausdorff(a: np.ndarray, b: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """Undirected (symmetric maximum) Hausdorff distance in mm over all voxels; 0 both empty, inf one empty."""
    a, b, spacing = _prepared(a, b, spacing)
    if not a.any() and not b.any():
        return 0.0
    if not a.any() or not b.any():
        return INF
    return float(max(_directed(a, b, spacing).max(), _directed(b, a, spacing).max()))
