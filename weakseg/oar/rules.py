"""The thesis's anatomical post-processing (§4.4), one small function per rule.

Arrays are (z, y, x) on an LPS grid: y runs anterior → posterior, which the optic-nerve graph
needs (§8 #20); ``left_is_high_x`` says whether a larger x index is the patient's left (it is
in LPS; ``left_is_high_x_of`` reads it from any direction matrix).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

FULL = ndi.generate_binary_structure(3, 3)


def majority_vote(masks: list[np.ndarray], min_votes: int | None = None) -> np.ndarray:
    """Per voxel, at least ``min_votes`` (default: a majority, 2 of 3) of the binary masks agree."""
    need = min_votes if min_votes is not None else len(masks) // 2 + 1
    return np.sum([np.asarray(m, bool) for m in masks], axis=0) >= need


def box_of(*masks: np.ndarray, margin: int = 1) -> tuple[slice, ...] | None:
    """Bounding box of the union of ``masks`` grown by ``margin`` (None when all are empty): rules work inside it."""
    union = np.zeros(masks[0].shape, bool)
    for mask in masks:
        union |= mask
    if not union.any():
        return None
    box = []
    for axis in range(3):
        hits = np.flatnonzero(union.any(tuple(i for i in range(3) if i != axis)))
        box.append(slice(max(int(hits[0]) - margin, 0), min(int(hits[-1]) + margin + 1, union.shape[axis])))
    return tuple(box)


def _in_box(mask: np.ndarray, function) -> np.ndarray:
    """``function`` applied to the mask's bounding box only, pasted back into an empty volume."""
    out = np.zeros(mask.shape, bool)
    box = box_of(mask)
    if box is not None:
        out[box] = function(mask[box])
    return out


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component (empty stays empty)."""
    def keep(local):
        labels, n = ndi.label(local, FULL)
        if n <= 1:
            return labels > 0
        return labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    return _in_box(np.asarray(mask, bool), keep)


def fill_holes_triplanar(mask: np.ndarray) -> np.ndarray:
    """Fill 2D holes (background not connected to the slice border) in every axial, coronal and sagittal slice."""
    def fill(local):
        out = local.copy()
        for axis in range(3):
            moved = np.moveaxis(out, axis, 0)
            for k in range(moved.shape[0]):
                if moved[k].any():
                    moved[k] = ndi.binary_fill_holes(moved[k])
        return out
    return _in_box(np.asarray(mask, bool), fill)


def left_is_high_x_of(direction: tuple[float, ...]) -> bool:
    """Whether increasing array x (ITK index i) moves towards the patient's left (LPS +x)."""
    return float(direction[0]) > 0


def split_left_right(mask: np.ndarray, brain: np.ndarray, left_is_high_x: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(left, right): each connected component goes to the side of the brain box's mid-x its barycentre falls on."""
    xs = np.flatnonzero(brain.any((0, 1))) if brain.any() else np.flatnonzero(mask.any((0, 1)))
    mid = 0.5 * (xs.min() + xs.max()) if len(xs) else mask.shape[2] / 2
    left, right = np.zeros(mask.shape, bool), np.zeros(mask.shape, bool)
    box = box_of(mask)
    if box is None:
        return left, right
    labels, n = ndi.label(mask[box], FULL)
    x = np.broadcast_to(np.arange(box[2].start, box[2].stop)[None, None], labels.shape)
    centre_x = np.bincount(labels.ravel(), x.ravel()) / np.maximum(np.bincount(labels.ravel()), 1)
    high = centre_x[1:] >= mid
    to_left = np.concatenate([[False], high == left_is_high_x])[labels] & (labels > 0)
    left[box], right[box] = to_left, (labels > 0) & ~to_left
    return left, right


def remove_small_components(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    """Drop components smaller than ``min_voxels`` (eyes: 4 cm³, so enucleated orbits are not eyes)."""
    def keep(local):
        labels, _ = ndi.label(local, FULL)
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        return (sizes >= min_voxels)[labels] & (labels > 0)
    return _in_box(np.asarray(mask, bool), keep)


def inside(mask: np.ndarray, container: np.ndarray) -> np.ndarray:
    """``mask`` restricted to ``container`` (lenses inside the predicted eyes)."""
    return np.asarray(mask, bool) & np.asarray(container, bool)


def split_at_barycentre(mask: np.ndarray, left_is_high_x: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) halves of a midline organ at its barycentre's x (chiasm: landmarks only)."""
    left, right = np.zeros(mask.shape, bool), np.zeros(mask.shape, bool)
    if not mask.any():
        return left, right
    mid = np.argwhere(mask)[:, 2].mean()
    high = (np.arange(mask.shape[2]) >= mid)[None, None]
    left[:] = mask & (high if left_is_high_x else ~high)
    right[:] = mask & ~(high if left_is_high_x else ~high)
    return left, right
