"""Weak labels made from full ones, for experiments, the way the papers made theirs.

- Slice labels (papers 001 and 002): a slice is "present" when the class mask is non-empty on it.
  Paper 001 uses the mask as is; paper 002 binarises and *erodes* it first, so tumour tips of a
  few voxels count as absent (its recommended setting: per-slice 2D erosion, 3×3 square, one
  iteration — ``GAN_SEEDS``).
- Scribbles: what an annotator draws — on a few slices through the object, a stroke along the
  skeleton of the shrunken object (foreground) and an arc around it at a safety margin
  (background). Everything else stays unknown.
- Regions (paper 000 on BraTS data): ROI1 = tumour core (enhancing + necrosis), ROI2 = edema
  (FLAIR abnormality minus the core), ROI3 = the rest of the brain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from skimage import measure, morphology

from weakseg import brats
from weakseg.errors import WeakSegError
from weakseg.labels.schema import ABSENT, BACKGROUND, FOREGROUND, KINDS, OUTSIDE, PRESENT, ROI1, ROI2, ROI3, UNKNOWN
from weakseg.labels.store import WeakLabelStore


@dataclass(frozen=True)
class ScribbleConfig:
    """How many strokes a simulated annotator draws, and how carefully.

    ``n_slices`` slices are picked among those where the shrunken object exists, larger
    cross-sections being likelier (annotators scribble where the object is clear).
    """

    n_slices: int = 3
    erode_px: int = 2  # foreground strokes stay this far inside the object
    fg_extent: float = 0.6  # fraction of the skeleton's extent one foreground stroke covers
    bg_margin_px: int = 4  # background strokes stay this far outside the object
    bg_arc: float = 0.5  # fraction of the surrounding contour one background stroke covers
    brush_px: int = 1  # stroke half-width


@dataclass(frozen=True)
class DeriveConfig:
    """Settings of ``derive_store``; the defaults reproduce paper 001 (no erosion)."""

    axis: str = "axial"
    erode_iterations: int = 0  # per-slice 2D erosion with a 3×3 square, as paper 002
    erode_mm: float | None = None  # alternative: per-slice erosion by a disk of this radius (mm)
    min_voxels: int = 1  # a slice is present with at least this many (eroded) voxels
    scribbles: ScribbleConfig = field(default_factory=ScribbleConfig)
    seed: int = 0


MIXED_SUPERVISION = DeriveConfig()
"""Paper 001: slice labels straight from the ground truth, per class."""
GAN_SEEDS = DeriveConfig(erode_iterations=1)
"""Paper 002: binarise, erode (3×3, 1 iteration, per slice), then present if anything remains."""


# ---------------------------------------------------------------------------- slice labels


def _in_plane_structure(axis: int, radius_px: Sequence[float] | None = None) -> np.ndarray:
    """3D structuring element of thickness 1 along ``axis``: a 3×3 square, or an ellipse of the given radii."""
    if radius_px is None:
        plane = np.ones((3, 3), bool)
    else:
        ry, rx = (max(float(r), 0.0) for r in radius_px)
        hy, hx = int(np.floor(ry)), int(np.floor(rx))
        yy, xx = np.mgrid[-hy:hy + 1, -hx:hx + 1]
        plane = (yy / max(ry, 1e-9)) ** 2 + (xx / max(rx, 1e-9)) ** 2 <= 1.0
    return np.expand_dims(plane, axis)


def erode_in_plane(mask: np.ndarray, axis: int = 0, *, iterations: int = 0, erode_mm: float | None = None,
                   spacing: Sequence[float] | None = None) -> np.ndarray:
    """Erode every slice across ``axis`` in 2D; voxels outside the volume count as background.

    ``iterations`` uses a 3×3 square (paper 002's recommended setting); ``erode_mm`` a disk of that
    radius given ``spacing`` in array order (z, y, x).
    """
    mask = np.asarray(mask).astype(bool)
    if erode_mm is not None:
        if spacing is None:
            raise ValueError("erode_mm needs the voxel spacing")
        in_plane = [s for i, s in enumerate(spacing) if i != axis]
        structure = _in_plane_structure(axis, [erode_mm / s for s in in_plane])
        mask = ndimage.binary_erosion(mask, structure=structure, border_value=0)
    if iterations > 0:
        mask = ndimage.binary_erosion(mask, structure=_in_plane_structure(axis), iterations=iterations, border_value=0)
    return mask


def slice_labels_from_mask(mask: np.ndarray, axis: int = 0, *, erode_iterations: int = 0, erode_mm: float | None = None,
                           spacing: Sequence[float] | None = None, min_voxels: int = 1) -> np.ndarray:
    """int8 PRESENT/ABSENT per slice along array ``axis``: present when the (eroded) mask has ≥ ``min_voxels`` there."""
    eroded = erode_in_plane(mask, axis, iterations=erode_iterations, erode_mm=erode_mm, spacing=spacing)
    other = tuple(i for i in range(eroded.ndim) if i != axis)
    counts = np.count_nonzero(eroded, axis=other)
    return np.where(counts >= max(min_voxels, 1), PRESENT, ABSENT).astype(np.int8)


# ---------------------------------------------------------------------------- scribbles


def _disk(radius: int) -> np.ndarray:
    return morphology.disk(radius).astype(bool) if radius > 0 else np.ones((1, 1), bool)


def _foreground_stroke(obj: np.ndarray, rng: np.random.Generator, cfg: ScribbleConfig) -> np.ndarray:
    """A stroke along part of the skeleton of the shrunken object, inside it."""
    inner = ndimage.binary_erosion(obj, _disk(cfg.erode_px), border_value=0) if cfg.erode_px else obj
    if not inner.any():
        inner = obj
    skeleton = morphology.skeletonize(inner)
    if not skeleton.any():
        skeleton = inner
    components, n = ndimage.label(skeleton, structure=np.ones((3, 3)))
    if n > 1:
        sizes = np.bincount(components.ravel())[1:]
        skeleton = components == (int(np.argmax(sizes)) + 1)
    points = np.argwhere(skeleton)
    centre = points[rng.integers(len(points))]
    dist = np.hypot(*(points - centre).T)
    keep = points[dist <= cfg.fg_extent * dist.max() + 0.5]
    stroke = np.zeros_like(obj)
    stroke[tuple(keep.T)] = True
    if cfg.brush_px:
        stroke = ndimage.binary_dilation(stroke, _disk(cfg.brush_px))
    return stroke & inner


def _background_stroke(obj: np.ndarray, rng: np.random.Generator, cfg: ScribbleConfig,
                       within: np.ndarray | None) -> np.ndarray:
    """An arc of the contour at ``bg_margin_px`` around the object, outside it (and inside ``within``)."""
    guard = ndimage.binary_dilation(obj, _disk(cfg.bg_margin_px)) if cfg.bg_margin_px else obj
    contours = measure.find_contours(np.pad(guard, 1).astype(float), 0.5)
    stroke = np.zeros_like(obj)
    if not contours:
        return stroke
    contour = max(contours, key=len) - 1.0  # undo the padding
    n = len(contour)
    length = max(int(round(cfg.bg_arc * n)), 1)
    start = int(rng.integers(n))
    arc = contour[(start + np.arange(length)) % n]
    idx = np.rint(arc).astype(int)
    inside = (idx[:, 0] >= 0) & (idx[:, 0] < obj.shape[0]) & (idx[:, 1] >= 0) & (idx[:, 1] < obj.shape[1])
    stroke[tuple(idx[inside].T)] = True
    if cfg.brush_px:
        stroke = ndimage.binary_dilation(stroke, _disk(cfg.brush_px))
    stroke &= ~guard
    if within is not None:
        stroke &= within
    return stroke


def scribbles_from_mask(mask: np.ndarray, rng: np.random.Generator, config: ScribbleConfig = ScribbleConfig(), *,
                        axis: int = 0, within: np.ndarray | None = None) -> np.ndarray:
    """int8 scribbles (1 foreground, 0 background, -1 unknown) drawn on a few slices across ``axis``.

    Foreground voxels are always inside ``mask`` (``erode_px`` from its edge where it is thick
    enough); background voxels are always outside it by more than ``bg_margin_px`` and inside
    ``within`` (e.g. the brain) when given. An empty mask gives no strokes.
    """
    mask = np.asarray(mask).astype(bool)
    out = np.full(mask.shape, UNKNOWN, np.int8)
    area = np.count_nonzero(mask, axis=tuple(i for i in range(3) if i != axis))
    candidates = np.flatnonzero(area)
    if candidates.size == 0:
        return out
    chosen = rng.choice(candidates, size=min(config.n_slices, candidates.size), replace=False,
                        p=area[candidates] / area[candidates].sum())
    for index in sorted(int(i) for i in chosen):
        where = [slice(None)] * 3
        where[axis] = index
        obj = mask[tuple(where)]
        plane = out[tuple(where)]  # a view: writes go into ``out``
        fg = _foreground_stroke(obj, rng, config)
        bg = _background_stroke(obj, rng, config, None if within is None else np.asarray(within, bool)[tuple(where)])
        plane[bg] = BACKGROUND
        plane[fg] = FOREGROUND
    return out


# ---------------------------------------------------------------------------- regions (paper 000)


def regions_from_brats(labels: np.ndarray, brain: np.ndarray | None = None,
                       convention: brats.LabelConvention | None = None) -> np.ndarray:
    """uint8 regions: ROI1 core (enhancing + necrosis), ROI2 edema, ROI3 rest of ``brain`` (or of the volume)."""
    region = brats.regions(np.asarray(labels), convention)
    out = np.full(region["WT"].shape, OUTSIDE, np.uint8)
    normal = ~region["WT"] if brain is None else (np.asarray(brain, bool) & ~region["WT"])
    out[normal] = ROI3
    out[region["WT"] & ~region["TC"]] = ROI2
    out[region["TC"]] = ROI1
    return out


# ---------------------------------------------------------------------------- whole stores


def brats_class_values(labels: np.ndarray) -> dict[str, tuple[int, ...]]:
    """WT/TC/ET as label values of whichever BraTS convention ``labels`` uses."""
    conv = brats.detect_convention(np.asarray(labels))
    e = conv.enhancing
    return {"WT": (brats.NCR, brats.ED, e), "TC": (brats.NCR, e), "ET": (e,)}


def derive_store(store: WeakLabelStore, labels: np.ndarray | sitk.Image, kinds: Iterable[str] = ("slices",), *,
                 class_values: Mapping[str, int | Sequence[int]] | None = None, config: DeriveConfig = DeriveConfig(),
                 brain: np.ndarray | None = None) -> WeakLabelStore:
    """Fill ``store`` with weak labels of ``kinds`` made from full ``labels`` (not saved).

    ``class_values`` maps class names to label values (default: BraTS WT/TC/ET). ``brain``
    bounds ROI3 and background scribbles. "regions" needs BraTS labels.
    """
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown label kind(s) {', '.join(unknown)}; expected {', '.join(KINDS)}")
    array = store._as_array(labels, "label map")
    try:
        values = dict(class_values) if class_values is not None else brats_class_values(array)
    except ValueError as exc:
        raise WeakSegError(f"labels are not BraTS labels ({exc}); give class values", store.path) from None
    store.add_classes(values)
    masks = {name: np.isin(array, np.atleast_1d(v)) for name, v in values.items()}
    axis = store.grid.array_axis(config.axis)
    rng = np.random.default_rng(config.seed)
    if "slices" in kinds:
        spacing = store.grid.spacing[::-1]
        for name, mask in masks.items():
            store.set_slice_labels(name, config.axis, slice_labels_from_mask(
                mask, axis, erode_iterations=config.erode_iterations, erode_mm=config.erode_mm, spacing=spacing,
                min_voxels=config.min_voxels))
        erosion = ", ".join(filter(None, [
            f"erode {config.erode_iterations}x 3x3 per slice" if config.erode_iterations else "",
            f"erode {config.erode_mm} mm disk per slice" if config.erode_mm else ""])) or "no erosion"
        store.provenance["slices"] = (f"derived from full labels on {config.axis} slices, {erosion}, "
                                      f"present with >= {config.min_voxels} voxels")
    if "scribbles" in kinds:
        for name, mask in masks.items():
            store.set_scribble_labels(name, scribbles_from_mask(mask, rng, config.scribbles, axis=axis, within=brain))
        store.provenance["scribbles"] = f"simulated from full labels: {config.scribbles} seed {config.seed}"
    if "regions" in kinds:
        store.set_regions(regions_from_brats(array, brain))
        store.provenance["regions"] = "derived from BraTS labels: ROI1 = TC, ROI2 = WT - TC, ROI3 = brain - WT"
    if "full" in kinds:
        for name, mask in masks.items():
            store.set_full_mask(name, mask)
        store.provenance["full"] = "full labels"
    return store


def derive_case(case, kinds: Iterable[str] = ("slices",), *, sidecar: str | Path,
                config: DeriveConfig = DeriveConfig(), class_values: Mapping[str, int | Sequence[int]] | None = None,
                ) -> WeakLabelStore:
    """Open (or create) a store at ``sidecar`` for a loaded ``weakseg.io.Case`` and derive weak labels from its labels.

    ``sidecar`` is explicit on purpose: derived labels are for experiments and must not land
    beside real data by accident (``<case>/weaklabels`` is where an annotator's labels live).
    The store is returned unsaved.
    """
    from weakseg.preprocess import brain_mask

    if case.labels is None:
        raise WeakSegError("case has no full labels (*_seg) to derive weak labels from", case.case_id)
    store = WeakLabelStore.open(Path(sidecar).parent, sidecar=sidecar, grid=case.grid, case_id=case.case_id)
    brain = brain_mask([sitk.GetArrayViewFromImage(img) for img in case.images.values()])
    return derive_store(store, case.labels, kinds, class_values=class_values, config=config, brain=brain)
