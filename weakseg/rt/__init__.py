"""DICOM RT out and in: RT Structure Sets referencing the original series, RTSTRUCT import
as partial labels, and DICOM SEG. See docs in each module; the entry points are here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

# Imports are lazy: ``weakseg.rt.series`` or SEG export must not pull in scikit-image (the RTSTRUCT
# contour code), which a fresh Slicer lacks.
if TYPE_CHECKING:
    import SimpleITK as sitk

    from weakseg.rt.rtstruct_write import RtExportConfig
    from weakseg.rt.segments import SegmentSet
    from weakseg.rt.series import ReferenceSeries

_LAZY = {"RtExportConfig": "weakseg.rt.rtstruct_write", "SegmentSet": "weakseg.rt.segments",
         "read_segments": "weakseg.rt.segments", "read_reference_series": "weakseg.rt.series",
         "ReferenceSeries": "weakseg.rt.series"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'weakseg.rt' has no attribute {name!r}")


def _as_segments(labels, names: dict | None):
    import SimpleITK as sitk

    from weakseg.rt.segments import SegmentSet, read_segments, segments_from_label_image

    if isinstance(labels, SegmentSet):
        return labels
    if isinstance(labels, sitk.Image):
        return segments_from_label_image(labels, names)
    return read_segments(labels, names)


def _prepare(labels, names, reference, expected):
    from weakseg.rt.reference import ExpectedIdentity, provenance_identity, verify_reference
    from weakseg.rt.series import ReferenceSeries, read_reference_series

    source = labels if isinstance(labels, (str, Path)) else None
    if expected is None:
        expected = ExpectedIdentity(case=provenance_identity(source) if source is not None else None)
    series = reference if isinstance(reference, ReferenceSeries) else read_reference_series(reference)
    segset = _as_segments(labels, names)
    verify_reference(series, segset.grid, expected, series.folder)
    return segset, series, source


def export_rtstruct(labels: "sitk.Image | SegmentSet | str | Path", names: dict | None,
                    reference: "str | Path | ReferenceSeries", out_path: str | Path, config: "RtExportConfig | None" = None,
                    expected=None) -> Path:
    """Write ``labels`` as an RTSTRUCT referencing the image series in ``reference`` (a folder or a read series).

    ``labels``: a multi-label image, a label file (.nii.gz, .nrrd, .seg.nrrd) or a SegmentSet;
    ``names``: label value → ROI name or {name, colour, type, code} (None: BraTS sub-regions
    for values 1-4, else Label_<value>); ``expected``: a ``weakseg.rt.reference.ExpectedIdentity``
    (None: from the provenance beside a labels file). The reference must be the labels' patient.
    """
    from weakseg.rt.rtstruct_write import RtExportConfig, write_rtstruct

    segset, series, source = _prepare(labels, names, reference, expected)
    return write_rtstruct(segset, series, out_path, config or RtExportConfig(), source=source)


def export_seg(labels: "sitk.Image | SegmentSet | str | Path", names: dict | None,
               reference: "str | Path | ReferenceSeries", out_path: str | Path, config: "RtExportConfig | None" = None,
               expected=None) -> Path:
    """Write ``labels`` as a binary DICOM SEG of the series in ``reference`` (same codes and checks as the RTSTRUCT)."""
    from weakseg.rt.rtstruct_write import RtExportConfig
    from weakseg.rt.seg_write import write_seg

    segset, series, source = _prepare(labels, names, reference, expected)
    return write_seg(segset, series, out_path, config or RtExportConfig(), source=source)


__all__ = ["RtExportConfig", "export_rtstruct", "export_seg", "read_reference_series", "read_segments", "SegmentSet"]
