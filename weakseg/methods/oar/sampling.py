"""Class-centred 2D patches in three orientations and their positive/negative/unknown labels (§4.3)."""

from __future__ import annotations

import numpy as np

from weakseg.oar.classes import CLASSES
from weakseg.phantom.label_sources import BIT, OARVolume

PLANE_AXES = {"axial": (0, (1, 2)), "coronal": (1, (0, 2)), "sagittal": (2, (0, 1))}
"""Orientation → (axis sliced, in-plane axes) of a (z, y, x) LPS array; inference transposes the same way."""


def cut(volume: np.ndarray, centre: np.ndarray, orientation: str, size: int, fill=0) -> np.ndarray:
    """The size × size plane through ``centre`` (z, y, x), zero-padded outside the volume."""
    axis, (a, b) = PLANE_AXES[orientation]
    out = np.full((size, size), fill, dtype=volume.dtype)
    index = [slice(None)] * 3
    index[axis] = int(centre[axis])
    lo = [int(centre[a]) - size // 2, int(centre[b]) - size // 2]
    src, dst = [], []
    for lo_i, n in zip(lo, (volume.shape[a], volume.shape[b])):
        s0, s1 = max(lo_i, 0), min(lo_i + size, n)
        src.append(slice(s0, max(s0, s1)))
        dst.append(slice(s0 - lo_i, s0 - lo_i + max(0, s1 - s0)))
    index[a], index[b] = src
    out[dst[0], dst[1]] = volume[tuple(index)]
    return out


def centre_in(volume: OARVolume, name: str, rng: np.random.Generator) -> np.ndarray:
    """A uniform point in one of the class's boxes (one of two for a bilateral class)."""
    boxes = volume.boxes[name]
    lo, hi = boxes[int(rng.integers(0, len(boxes)))]
    return np.array([rng.integers(a, b + 1) for a, b in zip(lo, hi)])


def patch_labels(bits: np.ndarray, known: tuple[str, ...], rules: list[tuple[str, str, str]]) -> np.ndarray:
    """int8 (C, h, w): 1 positive, 0 negative, -1 unknown; containment rules rebuild missing classes."""
    y = np.full((len(CLASSES), *bits.shape), -1, np.int8)
    for c, name in enumerate(CLASSES):
        if name in known:
            y[c] = (bits & BIT[name]) > 0
    for parent, child, where in rules:
        p, c = CLASSES.index(parent), CLASSES.index(child)
        if parent in known and child not in known:
            if where == "outside":
                y[c][y[p] == 0] = 0
            else:
                y[c][y[p] == 1] = 1
    return y
