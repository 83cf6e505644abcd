"""DICOM RT out and in: RT Structure Sets referencing the original series, RTSTRUCT import
as partial labels, and DICOM SEG. See docs in each module; the entry points are here."""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from weakseg.rt.rtstruct_write import RtExportConfig, write_rtstruct
from weakseg.rt.segments import SegmentSet, read_segments, segments_from_label_image
from weakseg.rt.series import read_reference_series


def _as_segments(labels: sitk.Image | SegmentSet | str | Path, names: dict | None) -> SegmentSet:
    if isinstance(labels, SegmentSet):
        return labels
    if isinstance(labels, sitk.Image):
        return segments_from_label_image(labels, names)
    return read_segments(labels, names)


def export_rtstruct(labels: sitk.Image | SegmentSet | str | Path, names: dict | None, reference_dir: str | Path,
                    out_path: str | Path, config: RtExportConfig | None = None) -> Path:
    """Write ``labels`` as an RTSTRUCT referencing the image series in ``reference_dir``.

    ``labels``: a multi-label image, a label file (.nii.gz, .nrrd, .seg.nrrd) or a SegmentSet;
    ``names``: label value → ROI name or {name, colour, type, code} (None: BraTS sub-regions
    for values 1-4, else Label_<value>).
    """
    source = labels if isinstance(labels, (str, Path)) else None
    segset = _as_segments(labels, names)
    series = read_reference_series(reference_dir)
    return write_rtstruct(segset, series, out_path, config or RtExportConfig(), source=source)


def export_seg(labels: sitk.Image | SegmentSet | str | Path, names: dict | None, reference_dir: str | Path,
               out_path: str | Path, config: RtExportConfig | None = None) -> Path:
    """Write ``labels`` as a binary DICOM SEG of the series in ``reference_dir`` (same codes as the RTSTRUCT)."""
    from weakseg.rt.seg_write import write_seg

    source = labels if isinstance(labels, (str, Path)) else None
    segset = _as_segments(labels, names)
    series = read_reference_series(reference_dir)
    return write_seg(segset, series, out_path, config or RtExportConfig(), source=source)


__all__ = ["RtExportConfig", "export_rtstruct", "export_seg", "read_reference_series", "read_segments", "SegmentSet"]
