"""Before an RTSTRUCT or SEG is built: is this reference series the right patient, and where do
the labels land on its planes?

Identity comes from the segmented DICOM case, from the ``*_provenance.json`` that ``weakseg
segment`` wrote beside a labels file (UIDs only), or from ``--patient-id`` given by the user.
Labels that carry no identity are accepted only when they lie on the reference series' own
voxel lattice (made on that very series, e.g. a Slicer segmentation of it); otherwise the
export is refused: resampling someone's labels onto an arbitrary series is how one patient's
contours end up in another's record.

Planes: labels are sampled at each reference plane's true position, so a series with a
missing slice gets every contour on the right plane (the gap simply has none).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.io.dicom_identity import DicomIdentity, check_reference, identity_from_provenance
from weakseg.rt.segments import Segment, SegmentSet, on_grid
from weakseg.rt.series import ReferenceSeries

log = logging.getLogger("weakseg")


@dataclass(frozen=True)
class ExpectedIdentity:
    """What the labels are known to belong to: a DICOM identity and/or a patient ID the user confirmed."""

    case: DicomIdentity | None = None
    patient_id: str | None = None


def provenance_identity(labels: str | Path) -> DicomIdentity | None:
    """The DICOM identity recorded in the provenance JSON beside a ``*_labels.nii.gz`` (or ``.seg.nrrd``)."""
    path = Path(labels)
    name = path.name
    for suffix in ("_labels.nii.gz", ".seg.nrrd"):
        if name.endswith(suffix):
            candidate = path.with_name(name[: -len(suffix)] + "_provenance.json")
            if candidate.is_file():
                try:
                    return identity_from_provenance(json.loads(candidate.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    raise WeakSegError("provenance beside the labels is not readable JSON", candidate) from None
    return None


def lattice_aligned(grid: sitk.Image, series: ReferenceSeries, tol_voxel: float = 0.05) -> bool:
    """Whether every voxel centre of ``grid`` is a pixel centre of some reference plane."""
    direction = np.array(grid.GetDirection()).reshape(3, 3)
    if not (np.allclose(direction[:, 0], series.row_dir, atol=1e-4) and np.allclose(direction[:, 1], series.col_dir, atol=1e-4)
            and np.allclose(np.abs(direction[:, 2] @ series.normal), 1.0, atol=1e-4)):
        return False
    spacing = grid.GetSpacing()
    if not (np.isclose(spacing[0], series.pixel_spacing[1], atol=1e-4) and np.isclose(spacing[1], series.pixel_spacing[0], atol=1e-4)):
        return False
    rel = np.array(grid.GetOrigin()) - series.positions[0]
    col = rel @ series.row_dir / series.pixel_spacing[1]
    row = rel @ series.col_dir / series.pixel_spacing[0]
    if abs(col - round(col)) > tol_voxel or abs(row - round(row)) > tol_voxel:
        return False
    offsets = series.slice_offsets()
    step = float(np.min(np.diff(offsets))) if len(offsets) > 1 else max(spacing[2], 1e-3)
    planes = np.array(grid.GetOrigin()) @ series.normal + np.arange(grid.GetSize()[2]) * spacing[2] * (direction[:, 2] @ series.normal)
    steps = (planes - offsets[0]) / step  # on the series' slice lattice, gaps included
    return bool(np.all(np.abs(steps - np.round(steps)) <= tol_voxel))


def verify_reference(series: ReferenceSeries, labels_grid: sitk.Image, expected: ExpectedIdentity, where=None) -> None:
    """Refuse a reference that is another patient, another frame of reference, or unverifiable (see module doc)."""
    check_reference(expected.case, series.identity, where, expected.patient_id)
    if expected.case is None and expected.patient_id is None and not lattice_aligned(labels_grid, series):
        raise WeakSegError("cannot verify that the labels belong to the reference series' patient: they are not on its "
                           "voxel grid and carry no DICOM identity (no provenance of a DICOM case beside them); "
                           "confirm the patient with --patient-id ID; nothing written", where)


def onto_series(segset: SegmentSet, series: ReferenceSeries, source=None) -> SegmentSet:
    """Segments as (planes, rows, cols) masks indexed like ``series``' planes, at their true positions."""
    if series.is_uniform():
        return on_grid(segset, series.grid(), source)
    offsets = series.slice_offsets()
    gaps = np.diff(offsets)
    worst = int(np.argmax(gaps))
    log.warning("%s: slice spacing varies (%.3g to %.3g mm; largest gap between %.2f and %.2f mm, a missing slice?): "
                "labels are sampled at each slice's true position", series.folder, gaps.min(), gaps.max(),
                offsets[worst], offsets[worst + 1])
    # each plane stands for the slab half-way to its neighbours, so volumes stay comparable across a gap
    thickness = np.empty(len(offsets))
    thickness[1:-1] = (offsets[2:] - offsets[:-2]) / 2
    thickness[0], thickness[-1] = gaps[0], gaps[-1]
    planes = [series.plane_grid(k) for k in range(len(offsets))]
    voxel_in = float(np.prod(segset.grid.GetSpacing()))
    pixel_area = series.pixel_spacing[0] * series.pixel_spacing[1]
    out = SegmentSet(grid=series.grid())
    for seg in segset.segments:
        image = sitk.GetImageFromArray(seg.mask.astype(np.uint8))
        image.CopyInformation(segset.grid)
        moved = np.stack([sitk.GetArrayFromImage(sitk.Resample(image, plane, sitk.Transform(), sitk.sitkNearestNeighbor,
                                                               0, sitk.sitkUInt8))[0] > 0 for plane in planes])
        before = seg.mask.sum() * voxel_in
        after = float((moved.sum(axis=(1, 2)) * thickness).sum() * pixel_area)
        if before > 0 and after < 0.9 * before:
            raise WeakSegError(f"labels do not match the reference series grid: only {100 * after / before:.0f} % of "
                               f"{seg.style.name!r} lies inside the reference images", source)
        out.segments.append(Segment(style=seg.style, mask=moved, key=seg.key))
    return out


__all__ = ["ExpectedIdentity", "provenance_identity", "lattice_aligned", "verify_reference", "onto_series"]
