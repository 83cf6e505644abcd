"""Labels to export, as named binary segments on one grid.

Inputs are a multi-label image (one class per value) or a Slicer ``.seg.nrrd`` whose
segments (name, colour, label value, layer) come from the header keys ``SegmentN_*``.
Overlapping segments live on different layers (a 4D NRRD whose first axis is the layer;
SimpleITK reads it as a vector image); each segment is ``layer == label value``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.io.image import read_image, same_grid
from weakseg.rt.codes import STYLES, Code, RoiStyle, default_style
from weakseg.rt.roi_table import RoiTable, load_roi_table

log = logging.getLogger("weakseg")
_BRATS_DEFAULT = {1: "necrosis", 2: "edema", 3: "enhancing", 4: "enhancing"}


@dataclass
class Segment:
    style: RoiStyle
    mask: np.ndarray          # bool, (z, y, x) on the set's grid
    key: str = ""             # class key when known (codes.STYLES), else ""


@dataclass
class SegmentSet:
    grid: sitk.Image
    segments: list[Segment] = field(default_factory=list)


def resolve_style(name: str, index: int, table: RoiTable | None = None) -> tuple[str, RoiStyle]:
    """(class key, style) for a segment name: a class key, a TG-263 name, or a table variant."""
    if name in STYLES:
        return name, STYLES[name]
    key = (table or load_roi_table()).lookup(name)
    if key and key in STYLES:
        return key, STYLES[key]
    return "", default_style(name, index)


def _style_from_spec(spec: str | dict, index: int, table: RoiTable) -> tuple[str, RoiStyle]:
    if isinstance(spec, str):
        return resolve_style(spec, index, table)
    if "name" not in spec:
        raise ValueError("each entry needs a 'name'")
    key, style = resolve_style(str(spec["name"]), index, table)
    style = style.renamed(str(spec["name"])) if key == "" else style
    if "colour" in spec or "color" in spec:
        style = RoiStyle(style.name, tuple(int(v) for v in spec.get("colour", spec.get("color"))), style.interpreted_type,
                         style.code, style.category)
    if "type" in spec:
        style = RoiStyle(style.name, style.colour, str(spec["type"]), style.code, style.category)
    if "code" in spec:
        value, meaning = spec["code"][:2]
        scheme = spec["code"][2] if len(spec["code"]) > 2 else "SCT"
        style = RoiStyle(style.name, style.colour, style.interpreted_type, Code(str(value), str(meaning), scheme), style.category)
    return key, style


def read_names_json(path: str | Path) -> dict[int, str | dict]:
    """``{"1": "Brainstem", "2": {"name": ..., "colour": [r, g, b], "type": "GTV", "code": [value, meaning]}}``."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {int(k): v for k, v in raw.items()}
    except (OSError, ValueError, AttributeError) as exc:
        raise WeakSegError(f"not a names JSON mapping label value to name ({exc})", path) from None


def segments_from_label_image(labels: sitk.Image, names: dict[int, str | dict] | None = None,
                              table: RoiTable | None = None) -> SegmentSet:
    """One segment per non-zero value; names default to the BraTS sub-regions for values 1-4."""
    table = table or load_roi_table()
    arr = sitk.GetArrayViewFromImage(labels)
    values = [int(v) for v in np.unique(arr) if v != 0]
    if names is None and set(values) <= {1, 2, 3, 4} and not {3, 4} <= set(values):
        names = {v: _BRATS_DEFAULT[v] for v in values}
    out = SegmentSet(grid=_grid_of(labels))
    for index, value in enumerate(values):
        spec = (names or {}).get(value, f"Label_{value}")
        try:
            key, style = _style_from_spec(spec, index, table)
        except (ValueError, TypeError) as exc:
            raise WeakSegError(f"bad name entry for label {value}: {exc}") from None
        out.segments.append(Segment(style=style, mask=np.asarray(arr == value), key=key))
    if names:
        missing = sorted(set(names) - set(values))
        if missing:
            log.info("labels %s are named but absent from the label image", missing)
    return out


def segments_from_mask_files(paths: list[Path], table: RoiTable | None = None) -> SegmentSet:
    """One segment per binary mask file (one file per structure, as clinical exports often are).

    Names come from the file names (``Optic-Nerve-Lt.nrrd`` → TG-263 ``OpticNrv_L`` through the ROI
    table); every mask must share the first one's grid.
    """
    table = table or load_roi_table()
    images = {_file_stem(p): read_image(p) for p in sorted(paths)}
    if not images:
        raise WeakSegError("no mask files given")
    grid = next(iter(images.values()))
    segset = SegmentSet(grid=grid)
    for index, (name, image) in enumerate(images.items()):
        if not same_grid(image, grid):
            raise WeakSegError(f"mask is not on the grid of {next(iter(images))}", name)
        key, style = resolve_style(name, index, table)
        segset.segments.append(Segment(style=style, mask=sitk.GetArrayFromImage(image) > 0, key=key))
    return segset


def _file_stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _grid_of(image: sitk.Image) -> sitk.Image:
    grid = sitk.Image(image.GetSize()[:3], sitk.sitkUInt8)
    grid.SetOrigin(image.GetOrigin()[:3])
    grid.SetSpacing(image.GetSpacing()[:3])
    grid.SetDirection(image.GetDirection() if image.GetDimension() == 3 else np.array(image.GetDirection()).reshape(4, 4)[:3, :3].ravel().tolist())
    return grid


def _read_seg_nrrd(path: Path, table: RoiTable) -> SegmentSet:
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError:
        raise WeakSegError("could not be read as a .seg.nrrd", path) from None
    keys = {k: image.GetMetaData(k) for k in image.GetMetaDataKeys()}
    indices = sorted({int(m.group(1)) for k in keys if (m := re.match(r"Segment(\d+)_Name$", k))})
    if not indices:
        raise WeakSegError("has no Segment0_Name header key; not a Slicer segmentation", path)
    arr = sitk.GetArrayViewFromImage(image)  # (z, y, x) or (z, y, x, layers)
    layers = arr.shape[3] if arr.ndim == 4 else 1
    out = SegmentSet(grid=_grid_of(image))
    for index in indices:
        name = keys[f"Segment{index}_Name"]
        value = int(keys.get(f"Segment{index}_LabelValue", index + 1))
        layer = int(keys.get(f"Segment{index}_Layer", 0))
        if layer >= layers:
            raise WeakSegError(f"segment {name!r} is on layer {layer} but the file has {layers}", path)
        data = arr[..., layer] if arr.ndim == 4 else arr
        key, style = resolve_style(name, index, table)
        if key == "":
            style = style.renamed(name)
        colour = keys.get(f"Segment{index}_Color")
        if colour and key == "":
            rgb = [float(v) for v in colour.split()[:3]]
            style = RoiStyle(style.name, tuple(int(round(255 * v)) for v in rgb), style.interpreted_type, style.code, style.category)
        out.segments.append(Segment(style=style, mask=np.asarray(data == value), key=key))
    return out


def read_segments(path: str | Path, names: dict[int, str | dict] | None = None, table: RoiTable | None = None) -> SegmentSet:
    """Read a ``.seg.nrrd`` or a multi-label image into named segments."""
    path = Path(path)
    table = table or load_roi_table()
    if path.name.lower().endswith(".seg.nrrd"):
        if not path.is_file():
            raise WeakSegError("file not found", path)
        return _read_seg_nrrd(path, table)
    image = read_image(path, check_finite=False)
    if image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        arr = sitk.GetArrayViewFromImage(image)
        if not np.all(np.mod(arr, 1) == 0):
            raise WeakSegError("holds non-integer values; expected a label image", path)
    return segments_from_label_image(image, names, table)


def on_grid(segset: SegmentSet, grid: sitk.Image, source: str | Path | None = None) -> SegmentSet:
    """Resample segments onto ``grid`` (nearest neighbour); refuse when labels fall outside it.

    A mask on another grid is accepted only when at least 90 % of each segment's volume
    lands inside the reference: otherwise the labels belong to another series.
    """
    if same_grid(segset.grid, grid):
        return segset
    voxel_in = float(np.prod(segset.grid.GetSpacing()))
    voxel_out = float(np.prod(grid.GetSpacing()))
    out = SegmentSet(grid=grid)
    for seg in segset.segments:
        image = sitk.GetImageFromArray(seg.mask.astype(np.uint8))
        image.CopyInformation(segset.grid)
        moved = sitk.GetArrayFromImage(sitk.Resample(image, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
        before, after = seg.mask.sum() * voxel_in, moved.sum() * voxel_out
        if before > 0 and after < 0.9 * before:
            raise WeakSegError(f"labels do not match the reference series grid: only {100 * after / before:.0f} % of "
                               f"{seg.style.name!r} lies inside the reference images", source)
        out.segments.append(Segment(style=seg.style, mask=moved, key=seg.key))
    log.info("labels resampled onto the reference series grid (nearest neighbour)")
    return out
