"""The OAR models' input normalisation: one T1-weighted channel divided by its bright end.

The thesis divides by the image maximum; the maximum is outlier-prone (§8 #4), so the
99.5th percentile of the non-background voxels is used instead. Skull-on heads (fat is the
brightest tissue) and skull-stripped brains (white matter is) differ by about a third, which
training covers with its scale randomisation.
"""

from __future__ import annotations

import numpy as np


def foreground(array: np.ndarray) -> np.ndarray:
    """Voxels above 2 % of the maximum: the head or brain, not the air noise."""
    top = float(np.max(array)) if array.size else 0.0
    return array > 0.02 * top


def normalise_head(array: np.ndarray, q: float = 99.5) -> np.ndarray:
    """float32 ``array`` / its q-th percentile inside the foreground (1.0 = bright end)."""
    array = np.asarray(array, dtype=np.float32)
    mask = foreground(array)
    if not mask.any():
        return np.zeros_like(array)
    level = float(np.percentile(array[mask], q))
    return np.clip(array / (level if level > 0 else 1.0), 0.0, 4.0).astype(np.float32)
