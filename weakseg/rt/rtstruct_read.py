"""Read an RT Structure Set onto its reference image grid: one boolean mask per ROI.

Every reference is checked before anything is rasterised: the referenced series must be
the one given, its Frame of Reference must match, and every image a contour names must
exist. Each CLOSED_PLANAR contour must lie on an image plane; the contours of one plane
are combined by the even-odd rule, so both nested-hole and keyhole files read correctly.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from weakseg.errors import WeakSegError
from weakseg.io.atomic import write_text_atomic
from weakseg.io.image import copy_geometry, write_image
from weakseg.rt.contours import rasterise_rings
from weakseg.rt.roi_table import RoiTable, load_roi_table
from weakseg.rt.rtstruct_write import RT_STRUCTURE_SET_STORAGE
from weakseg.rt.series import ReferenceSeries, read_reference_series

log = logging.getLogger("weakseg")


@dataclass
class ImportedRoi:
    number: int
    name: str
    key: str | None               # WeakSeg class from the ROI table, None when unknown
    colour: tuple[int, int, int] | None
    interpreted_type: str
    mask: np.ndarray              # bool (z, y, x) on the reference grid
    contours: int


def load_rtstruct(path: str | Path) -> pydicom.Dataset:
    path = Path(path)
    if not path.is_file():
        raise WeakSegError("file not found", path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise WeakSegError(f"not a readable DICOM file ({exc})", path) from None
    if str(ds.get("SOPClassUID", "")) != RT_STRUCTURE_SET_STORAGE or ds.get("Modality") != "RTSTRUCT":
        raise WeakSegError(f"is not an RT Structure Set (Modality {ds.get('Modality', 'missing')})", path)
    lacking = [k for k in ("StructureSetROISequence", "ROIContourSequence", "ReferencedFrameOfReferenceSequence")
               if k not in ds]
    if lacking:  # Type 1 modules: a file that ends cleanly before them was cut short
        raise WeakSegError(f"RT Structure Set is incomplete (truncated or damaged?): it lacks {', '.join(lacking)}", path)
    return ds


def _contour_points(contour, path: Path, name: str) -> np.ndarray:
    try:
        values = np.asarray([float(v) for v in contour.ContourData], dtype=float)
    except (AttributeError, TypeError, ValueError):
        raise WeakSegError(f"a contour of ROI {name!r} has unreadable ContourData", path) from None
    if values.size == 0 or values.size % 3:
        raise WeakSegError(f"a contour of ROI {name!r} has {values.size} ContourData values, not (x, y, z) triplets", path)
    if not np.all(np.isfinite(values)):
        raise WeakSegError(f"a contour of ROI {name!r} has non-numeric coordinates (NaN/Inf) in ContourData", path)
    return values.reshape(-1, 3)


def referenced_series_uid(ds: pydicom.Dataset, path: Path) -> tuple[str, str]:
    """(Frame of Reference UID, referenced Series Instance UID) from the structure set module."""
    try:
        frame = ds.ReferencedFrameOfReferenceSequence[0]
        series = frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
        return str(frame.FrameOfReferenceUID), str(series.SeriesInstanceUID)
    except (AttributeError, IndexError):
        raise WeakSegError("has no Referenced Frame of Reference / RT Referenced Series; cannot place it", path) from None


def _slice_index(series: ReferenceSeries, offset: float, path: Path, roi: str) -> int:
    offsets = series.slice_offsets()
    k = int(np.argmin(np.abs(offsets - offset)))
    gap = float(np.min(np.diff(offsets))) if len(offsets) > 1 else 1.0
    if abs(offsets[k] - offset) > 0.25 * gap:
        raise WeakSegError(f"a contour of ROI {roi!r} lies {abs(offsets[k] - offset):.2f} mm from the nearest image plane", path)
    return k


def read_rtstruct(path: str | Path, reference_dir: str | Path, table: RoiTable | None = None) -> tuple[list[ImportedRoi], ReferenceSeries]:
    """Rasterise every ROI of ``path`` onto the series it references inside ``reference_dir``."""
    path = Path(path)
    ds = load_rtstruct(path)
    frame_uid, series_uid = referenced_series_uid(ds, path)
    try:
        series = read_reference_series(reference_dir, series_uid=series_uid)
    except WeakSegError as exc:
        raise WeakSegError(f"references image series {series_uid}, not found in {reference_dir} ({exc.message})", path) from None
    if series.frame_of_reference_uid != frame_uid:
        raise WeakSegError(f"Frame of Reference {frame_uid} differs from the images' {series.frame_of_reference_uid}", path)
    known = set(series.sop_uids)
    table = table or load_roi_table()
    names = {int(r.ROINumber): str(r.ROIName) for r in ds.get("StructureSetROISequence", [])}
    types = {int(o.ReferencedROINumber): str(o.get("RTROIInterpretedType", "") or "")
             for o in ds.get("RTROIObservationsSequence", [])}
    shape = (len(series.datasets), series.rows, series.columns)
    rois = []
    for roi_contour in ds.get("ROIContourSequence", []):
        number = int(roi_contour.ReferencedROINumber)
        name = names.get(number, f"ROI_{number}")
        per_plane: dict[int, list[np.ndarray]] = {}
        for contour in roi_contour.get("ContourSequence", []):
            for ref in contour.get("ContourImageSequence", []):
                if str(ref.ReferencedSOPInstanceUID) not in known:
                    raise WeakSegError(f"ROI {name!r} references image {ref.ReferencedSOPInstanceUID}, "
                                       "which is not in the reference series", path)
            kind = str(contour.get("ContourGeometricType", ""))
            if kind != "CLOSED_PLANAR":
                log.warning("%s: ROI %r has a %s contour; only CLOSED_PLANAR contours are read", path, name, kind or "untyped")
                continue
            points = _contour_points(contour, path, name)
            rc, along = series.patient_to_plane(points)
            if np.ptp(along) > 0.01 * max(1.0, series.pixel_spacing[0]):
                raise WeakSegError(f"a contour of ROI {name!r} is not planar along the image normal", path)
            k = _slice_index(series, float(np.mean(along)), path, name)
            per_plane.setdefault(k, []).append(rc)
        mask = np.zeros(shape, dtype=bool)
        for k, rings in per_plane.items():
            mask[k] = rasterise_rings(rings, shape[1:])
        colour = tuple(int(v) for v in roi_contour.ROIDisplayColor) if "ROIDisplayColor" in roi_contour else None
        rois.append(ImportedRoi(number, name, table.lookup(name), colour, types.get(number, ""), mask,
                                sum(len(v) for v in per_plane.values())))
    if not rois:
        raise WeakSegError("holds no ROI contours", path)
    return rois, series


def _safe_name(name: str, taken: set[str]) -> str:
    base = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name).strip("_") or "ROI"
    candidate, n = base, 2
    while candidate.lower() in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def import_rtstruct(path: str | Path, reference_dir: str | Path, out_dir: str | Path,
                    store_dir: str | Path | None = None, table: RoiTable | None = None) -> dict:
    """Write one NRRD mask per ROI and ``rois.json``; optionally put mapped ROIs into a weak-label store.

    In the store, each mapped ROI becomes a full mask of its class; classes the structure
    set does not contour are only declared, so they stay *unknown*, never absent: clinical
    structure sets contour only the organs a plan needed. Everything is read and checked
    before the first file is written.
    """
    table = table or load_roi_table()
    rois, series = read_rtstruct(path, reference_dir, table)
    if not series.is_uniform():
        gaps = np.diff(series.slice_offsets())
        raise WeakSegError(f"the reference series' slices are not equally spaced ({gaps.min():.3g} to {gaps.max():.3g} mm: a "
                           "missing slice?); masks cannot be written on a regular grid without shifting planes", reference_dir)
    grid = series.grid()
    store = None
    if store_dir is not None:
        from weakseg.labels import WeakLabelStore

        store = WeakLabelStore.open(store_dir, grid=grid)
    out_dir = Path(out_dir)
    taken: set[str] = set()
    listing = []
    for roi in rois:
        stem = _safe_name(roi.name, taken)
        entry = {"number": roi.number, "name": roi.name, "class": roi.key, "colour": roi.colour,
                 "interpreted_type": roi.interpreted_type, "contours": roi.contours,
                 "voxels": int(roi.mask.sum()), "file": f"{stem}.nrrd"}
        listing.append(entry)
    present = sorted({r.key for r in rois if r.key and r.mask.any()})
    empty = sorted({r.key for r in rois if r.key and not r.mask.any()} - set(present))
    summary = {
        "rtstruct": str(path), "reference_series": series.series_uid, "frame_of_reference": series.frame_of_reference_uid,
        "rois": listing,
        "present_classes": present,
        "unknown_classes": sorted(set(table.classes) - set(present)),
        "empty_rois_unknown": empty,
        "unmapped_rois": [r.name for r in rois if not r.key],
    }
    from weakseg.io.output_set import OutputSet

    files = {f"roi{i}": entry["file"] for i, entry in enumerate(listing)}
    with OutputSet({**files, "summary": "rois.json"}, out_dir=out_dir, inputs=[path],
                   what="import output") as outputs:  # all masks and rois.json appear together, or none
        for i, roi in enumerate(rois):
            write_image(copy_geometry(roi.mask.astype(np.uint8), grid), outputs.path(f"roi{i}"))
        write_text_atomic(outputs.path("summary"), json.dumps(summary, indent=2) + "\n")
    if store is not None:
        masks = {cls: np.any([r.mask for r in rois if r.key == cls], axis=0) for cls in present}
        derived = derive_regions(masks)
        store.add_classes([*present, *derived])
        for cls, mask in {**masks, **derived}.items():
            store.set_full_mask(cls, mask)
        store.provenance["full"] = f"RTSTRUCT import: {Path(path).name}" + (
            f" (derived {', '.join(derived)})" if derived else "")
        summary["store"] = str(store.save())
        summary["derived_classes"] = sorted(derived)
    return summary


def derive_regions(masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """BraTS regions (ET, TC, WT) that the contoured sub-regions fully determine.

    ET is the enhancing ROI; TC needs necrosis and enhancing; WT needs oedema and TC. A region
    whose parts were not all contoured stays unknown rather than being guessed from a part.
    """
    out: dict[str, np.ndarray] = {}
    if "enhancing" in masks and "ET" not in masks:
        out["ET"] = masks["enhancing"]
    core = masks.get("TC")
    if core is None and "necrosis" in masks and "enhancing" in masks:
        core = out["TC"] = masks["necrosis"] | masks["enhancing"]
    if "WT" not in masks and core is not None and "edema" in masks:
        out["WT"] = masks["edema"] | core
    return out
