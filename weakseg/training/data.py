"""Training cases in memory: normalised channel stacks, class maps and per-slice labels.

Cases are loaded once (optionally cached as memory-mapped .npy arrays, see
``weakseg.training.cache``), cropped to the brain box, normalised and optionally shrunk
in-plane, then kept in float16. Methods draw their batches from these arrays.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F

from weakseg import brats
from weakseg.errors import WeakSegError
from weakseg.io.case import Case, find_case_files, load_case
from weakseg.preprocess import PreprocessConfig, crop, prepare_channels, to_canonical

log = logging.getLogger("weakseg")

TUMOUR_CLASSES = ("necrosis", "edema", "enhancing")
"""Network class indices 1..3 (0 = background); BraTS enhancing (4 or 3) becomes class 3."""

UNKNOWN, ABSENT, PRESENT = -1, 0, 1


@dataclass
class TrainingCase:
    """One case at training resolution.

    stack: (C,z,h,w) float16; classes: (z,h,w) uint8 class indices or None (no voxel
    labels used); slice_labels: (z, 3) int8 per tumour class, PRESENT/ABSENT/UNKNOWN;
    usable: (z,) slices with enough brain to train on; full: trained with voxel labels;
    classes_full: (z,H,W) class indices at the original resolution inside the brain box
    (kept for validation cases only); region_labels: (z,) PRESENT/ABSENT/UNKNOWN per region
    name (WT/TC/ET) when known directly (a weak-label store, or derived with erosion), which
    then takes precedence over what ``slice_labels`` implies.
    """

    case_id: str
    stack: np.ndarray
    classes: np.ndarray | None
    slice_labels: np.ndarray
    usable: np.ndarray
    full: bool
    classes_full: np.ndarray | None = None
    region_labels: dict[str, np.ndarray] = field(default_factory=dict)
    z_offset: int = 0
    grid_depth: int = 0
    box: tuple[tuple[int, int], ...] | None = None
    scribbles: np.ndarray | None = None
    """(z, h, w) uint8 forbidden-class bits at training resolution (``weakseg.training.scribbles``; 0 = no
    stroke), or None; box: the brain box on the canonical grid, (start, stop) per axis."""

    @property
    def depth(self) -> int:
        return self.stack.shape[1]


@dataclass(frozen=True)
class DataConfig:
    """How cases become training arrays (recorded in the model card).

    inplane_downsample: shrink factor for y and x (1 = none); brain_fraction: a slice is
    usable when its brain area is at least this share of the full slice (spec §5 item 7).
    """

    sequences: tuple[str, ...] = ("flair", "t1", "t1c", "t2")
    normalisation: str = "median"
    margin: int = 0
    median_scale: float = 100.0
    inplane_downsample: int = 1
    brain_fraction: float = 0.05

    @property
    def preprocess(self) -> PreprocessConfig:
        return PreprocessConfig(self.normalisation, self.margin, self.median_scale)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.__dict__, sort_keys=True, default=list).encode()).hexdigest()[:16]


def class_map(labels: np.ndarray) -> np.ndarray:
    """BraTS labels (either convention) → class indices 0..3 (1 necrosis, 2 edema, 3 enhancing)."""
    labels = np.asarray(labels)
    conv = brats.detect_convention(labels)
    out = np.zeros(labels.shape, dtype=np.uint8)
    out[labels == brats.NCR] = 1
    out[labels == brats.ED] = 2
    out[labels == conv.enhancing] = 3
    return out


def slice_presence(classes: np.ndarray) -> np.ndarray:
    """(z, 3) int8: whether each tumour class occurs in each axial slice."""
    flat = classes.reshape(classes.shape[0], -1)
    return np.stack([(flat == c).any(1) for c in (1, 2, 3)], 1).astype(np.int8)


def shrink_stack(stack: np.ndarray, factor: int) -> np.ndarray:
    """Area-average each slice by ``factor`` in y and x (what inference does with ``inplane_downsample``)."""
    if factor == 1:
        return stack
    c, z, h, w = stack.shape
    size = (max(1, round(h / factor)), max(1, round(w / factor)))
    t = torch.from_numpy(np.ascontiguousarray(stack.transpose(1, 0, 2, 3), dtype=np.float32))
    return F.interpolate(t, size=size, mode="area").numpy().transpose(1, 0, 2, 3)


def shrink_classes(classes: np.ndarray, factor: int, n_classes: int = 4) -> np.ndarray:
    """Area-average the one-hot class maps, then take the majority class per coarse pixel."""
    if factor == 1:
        return classes
    z, h, w = classes.shape
    size = (max(1, round(h / factor)), max(1, round(w / factor)))
    out = np.empty((z, *size), dtype=np.uint8)
    for z0 in range(0, z, 32):
        onehot = F.one_hot(torch.from_numpy(classes[z0:z0 + 32].astype(np.int64)), n_classes).permute(0, 3, 1, 2).float()
        out[z0:z0 + 32] = F.interpolate(onehot, size=size, mode="area").argmax(1).numpy().astype(np.uint8)
    return out


def load_training_case(folder: str | Path, config: DataConfig, *, keep_full: bool = False,
                       cache_dir: str | Path | None = None) -> TrainingCase:
    """Load one case folder, preprocess it and return it at training resolution (full labels, if any)."""
    from weakseg.training import cache as case_cache

    folder = Path(folder)
    entry = case_cache.entry_path(cache_dir, folder, config.key()) if cache_dir else None
    cached = case_cache.read_entry(entry) if entry is not None else None
    if cached is not None and "box" not in cached[0]:
        cached = None  # written before boxes were kept (scribbles need it): made again once
    if cached is not None:
        meta, data = cached
        classes = data.get("classes")
        full = data.get("classes_full") if keep_full else None
        return TrainingCase(meta["case_id"], data["stack"], classes, np.asarray(data["slice_labels"]),
                            np.asarray(data["usable"]), classes is not None, full, {}, meta["z_offset"],
                            meta["grid_depth"], tuple(tuple(b) for b in meta["box"]))
    case = load_case(folder)
    stack, classes, classes_full, slice_labels, usable, (z_offset, grid_depth), box = _arrays(case, config)
    result = TrainingCase(case.case_id, stack, classes, slice_labels, usable, classes is not None,
                          classes_full if keep_full else None, {}, z_offset, grid_depth, box)
    if entry is not None:
        case_cache.write_entry(entry, {"case_id": case.case_id, "z_offset": int(z_offset), "grid_depth": int(grid_depth),
                                       "box": [list(b) for b in box]},
                               {"stack": stack, "classes": classes, "classes_full": classes_full,
                                "slice_labels": slice_labels, "usable": usable})
    return result


def _canonical(case: Case) -> Case:
    from dataclasses import replace

    from weakseg.io.image import orientation_code

    if orientation_code(case.grid) == "LPS":
        return case
    labels = to_canonical(case.labels) if case.labels is not None else None
    return replace(case, images={k: to_canonical(v) for k, v in case.images.items()}, labels=labels)


def _arrays(case: Case, config: DataConfig):
    case = _canonical(case)
    stack, box = prepare_channels(case, config.sequences, config.preprocess)
    full_area = case.grid.GetSize()[0] * case.grid.GetSize()[1]
    classes_full = None
    if case.labels is not None:
        try:
            classes_full = class_map(crop(sitk.GetArrayViewFromImage(case.labels), box))
        except ValueError as exc:
            raise WeakSegError(str(exc), case.sources.get("seg", case.case_id)) from None
    small = shrink_stack(stack, config.inplane_downsample).astype(np.float16)
    usable = (stack != 0).any(0).reshape(stack.shape[1], -1).sum(1) >= config.brain_fraction * full_area
    z_extent = (box[0].start or 0, case.grid.GetSize()[2])
    shape = sitk.GetArrayViewFromImage(case.grid).shape
    bounds = tuple((b.start or 0, n if b.stop is None else b.stop) for b, n in zip(box, shape))
    if classes_full is None:
        return small, None, None, np.full((stack.shape[1], 3), UNKNOWN, np.int8), usable, z_extent, bounds
    classes = shrink_classes(classes_full, config.inplane_downsample)
    return small, classes, classes_full, slice_presence(classes_full), usable, z_extent, bounds


def dataset_folders(dataset: str | Path) -> list[Path]:
    """Case folders of a dataset: a folder whose sub-folders are cases, a single case folder, or a
    ``weakseg.labels`` manifest (.json; its files are checked against their SHA-256)."""
    root = Path(dataset)
    if not root.exists():
        raise WeakSegError("dataset not found", root)
    if root.is_file():
        from weakseg.labels.manifest import load_manifest

        manifest = load_manifest(root, verify=True)
        return [manifest.case_dir(entry.id) for entry in manifest.cases]
    if root.is_dir():
        if find_case_files(root):
            return [root]
        folders = [p for p in sorted(root.iterdir()) if p.is_dir() and find_case_files(p)]
        if not folders:
            raise WeakSegError("no case folders found (expected sub-folders with *_flair/_t1/_t1ce/_t2 files)", root)
        return folders
    raise WeakSegError("dataset must be a folder of case folders or a dataset manifest (.json)", root)


REGION_OF = {(1, 2, 3): "WT", (1, 3): "TC", (3,): "ET"}


def presence(case: TrainingCase, classes: tuple[int, ...]) -> np.ndarray:
    """(z,) PRESENT if any of ``classes`` is in the slice, ABSENT if none is, else UNKNOWN.

    A region label given directly (``case.region_labels``) wins; otherwise it follows from
    the per-class labels.
    """
    name = REGION_OF.get(tuple(classes))
    if name in case.region_labels:
        return case.region_labels[name]
    cols = case.slice_labels[:, [c - 1 for c in classes]]
    out = np.full(cols.shape[0], UNKNOWN, np.int8)
    out[(cols == ABSENT).all(1)] = ABSENT
    out[(cols == PRESENT).any(1)] = PRESENT
    return out


WEAK_KINDS = ("slices", "scribbles")
"""What ``weak_from_full`` can simulate an annotator giving."""


def weak_from_full(case: TrainingCase, erode_iterations: int = 0, kinds: tuple[str, ...] = ("slices",),
                   seed: int = 0) -> TrainingCase:
    """Keep only what an annotator's weak labels would give of a fully annotated case.

    ``slices``: slice labels from ``weakseg.labels.derive.slice_labels_from_mask`` (the project's
    one derivation, as paper 001's experiments did), per class and per region, after eroding each
    mask in-plane ``erode_iterations`` times so slivers count as absent. ``scribbles``: the whole
    tumour's strokes from ``weakseg.labels.derive.scribbles_from_mask`` (its default simulated
    annotator, seeded by ``seed``; background strokes inside the brain). Needs ``classes_full``
    (load with ``keep_full=True``).
    """
    from weakseg.labels.derive import scribbles_from_mask, slice_labels_from_mask
    from weakseg.training.scribbles import forbidden_bits, shrink_bits

    unknown = set(kinds) - set(WEAK_KINDS)
    if unknown or not kinds:
        raise WeakSegError(f"weak label kinds {sorted(unknown) or '(none)'} cannot be derived (expected "
                           f"{' and/or '.join(WEAK_KINDS)})")
    if case.classes_full is None:
        raise WeakSegError("deriving weak labels needs the case's full-resolution labels", case.case_id)
    full = case.classes_full
    per_class = np.full((full.shape[0], 3), UNKNOWN, np.int8)
    regions: dict[str, np.ndarray] = {}
    if "slices" in kinds:
        per_class = np.stack([slice_labels_from_mask(full == c, 0, erode_iterations=erode_iterations)
                              for c in (1, 2, 3)], 1).astype(np.int8)
        regions = {name: np.asarray(slice_labels_from_mask(np.isin(full, classes), 0,
                                                           erode_iterations=erode_iterations), np.int8)
                   for classes, name in REGION_OF.items()}
    scribbles = None
    if "scribbles" in kinds:
        brain = _brain_at_full_resolution(case, full.shape)
        strokes = scribbles_from_mask(full > 0, np.random.default_rng(seed), within=brain)
        scribbles = shrink_bits(forbidden_bits({"WT": strokes}), case.stack.shape[2:])
    return TrainingCase(case.case_id, case.stack, None, per_class, case.usable, False, None, regions, case.z_offset,
                        case.grid_depth, case.box, scribbles)


def _brain_at_full_resolution(case: TrainingCase, shape: tuple[int, ...]) -> np.ndarray:
    """Where the (possibly shrunk) stack has signal, brought to the full-resolution grid ``shape``."""
    inside = torch.from_numpy((np.asarray(case.stack) != 0).any(0).astype(np.float32))[:, None]
    return F.interpolate(inside, size=shape[1:], mode="nearest")[:, 0].numpy() > 0


def weak_from_store(case: TrainingCase, store) -> TrainingCase:
    """Slice labels of a case from its ``weakseg.labels.WeakLabelStore`` (axial, canonical LPS grid).

    Classes named necrosis/edema/enhancing fill the per-class labels, WT/TC/ET the region
    labels; region labels also imply per-class ones where they are certain (WT absent → all
    absent, TC absent → necrosis and enhancing absent, ET → enhancing).
    """
    depth = case.depth
    if store.grid.array_axis("axial") != 0:
        raise WeakSegError("weak labels on a grid whose first array axis is not axial are not supported for training yet",
                           store.path)
    per_class = np.full((depth, 3), UNKNOWN, np.int8)
    regions: dict[str, np.ndarray] = {}
    for name in store.classes:
        labels = np.asarray(store.slice_labels(name, "axial"), np.int8)
        if case.grid_depth and labels.shape[0] != case.grid_depth:
            raise WeakSegError(f"weak labels of class '{name}' have {labels.shape[0]} axial slices, the case has "
                               f"{case.grid_depth}", store.path)
        labels = labels[case.z_offset:case.z_offset + depth]
        if name in TUMOUR_CLASSES:
            per_class[:, TUMOUR_CLASSES.index(name)] = labels
        elif name in ("WT", "TC", "ET"):
            regions[name] = labels
    implied = {"WT": (0, 1, 2), "TC": (0, 2), "ET": (2,)}
    for name, cols in implied.items():
        if name in regions:
            for col in cols:
                unknown = per_class[:, col] == UNKNOWN
                per_class[unknown & (regions[name] == ABSENT), col] = ABSENT
    if "ET" in regions:
        unknown = per_class[:, 2] == UNKNOWN
        per_class[unknown & (regions["ET"] == PRESENT), 2] = PRESENT
    return TrainingCase(case.case_id, case.stack, None, per_class, case.usable, False, None, regions, case.z_offset,
                        case.grid_depth, case.box, _store_scribbles(case, store))


def _store_scribbles(case: TrainingCase, store) -> np.ndarray | None:
    """The store's strokes (every class it has them for) as forbidden-class bits on the training arrays."""
    from weakseg.training.scribbles import SCRIBBLE_CLASSES, forbidden_bits, shrink_bits

    names = store.known_classes("scribbles")
    if not names:
        return None
    unusable = [n for n in names if n not in SCRIBBLE_CLASSES]
    if unusable:
        raise WeakSegError(f"scribbles of class(es) {', '.join(unusable)} cannot train a tumour model (known: "
                           f"{', '.join(SCRIBBLE_CLASSES)})", store.path)
    if case.box is None:
        raise WeakSegError("internal: training case without its brain box; clear the training cache", store.path)
    strokes = {}
    for name in names:
        array = store.scribbles(name)
        if case.grid_depth and array.shape[0] != case.grid_depth:
            raise WeakSegError(f"scribbles of class '{name}' have {array.shape[0]} axial slices, the case has "
                               f"{case.grid_depth}", store.path)
        strokes[name] = array[tuple(slice(a, b) for a, b in case.box)]
    return shrink_bits(forbidden_bits(strokes), case.stack.shape[2:])
