"""DICOM SEG of the same segments, with highdicom, carrying the same codes as the RTSTRUCT.

A binary SEG of the reference series: one segment per ROI, category and property type
from ``codes``, algorithm identification AUTOMATIC with the model name and version.
Empty frames are omitted (highdicom's default), so the file stays small.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes as dcm_codes

import weakseg
from weakseg.errors import WeakSegError
from weakseg.io.atomic import write_with
from weakseg.rt.codes import ANATOMICAL_STRUCTURE, Code
from weakseg.rt.rtstruct_write import RtExportConfig, reference_check
from weakseg.rt.segments import SegmentSet
from weakseg.rt.series import ReferenceSeries

log = logging.getLogger("weakseg")

_TISSUE = Code("85756007", "Tissue")


def _coded(code: Code) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=code.value, scheme_designator=code.scheme, meaning=code.meaning[:64])


def build_seg(segset: SegmentSet, series: ReferenceSeries, config: RtExportConfig) -> hd.seg.Segmentation:
    algorithm = hd.AlgorithmIdentificationSequence(
        name=config.model_name[:64], version=config.model_version[:64],
        family=dcm_codes.cid7162.ArtificialIntelligence,
    )
    kept = [s for s in segset.segments if s.mask.any()]
    if not kept:
        raise WeakSegError("the labels are empty: no segment to export")
    descriptions = []
    for number, seg in enumerate(kept, start=1):
        style = seg.style
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=style.name[:64],
            segmented_property_category=_coded(style.category if style.code else ANATOMICAL_STRUCTURE),
            segmented_property_type=_coded(style.code or _TISSUE),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            tracking_uid=hd.UID(),
            tracking_id=style.name[:64],
            display_color=hd.color.CIELabColor(*_rgb_to_lab(style.colour)),
        ))
    pixels = np.stack([s.mask for s in kept], axis=-1).astype(np.uint8)  # (frames, rows, cols, segments)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seg = _segmentation(series, pixels, descriptions, config)
    for message in dict.fromkeys(str(w.message) for w in caught):  # once each, through the log, not raw stderr
        log.info("highdicom: %s", message)
    return seg


def _shared_orientation(series: ReferenceSeries) -> list:
    """The reference headers with one ImageOrientationPatient: scanners write float noise (1e-8) between
    slices, which highdicom's exact comparison rejects; the series was already checked to agree within 1e-4.
    Copies only: the SEG references the original instances by UID."""
    iop = list(series.first.ImageOrientationPatient)
    gaps = np.diff(series.slice_offsets())
    thickness = f"{float(np.median(gaps)) if len(gaps) else 1.0:.6g}"
    out = []
    for ds in series.datasets:
        copy = ds.copy()
        copy.ImageOrientationPatient = iop
        if "SliceThickness" not in copy:  # highdicom needs it for the SEG's pixel measures; some series omit it
            copy.SliceThickness = thickness
        for keyword in _TYPE2_PATIENT_STUDY:  # Type 2: present, maybe empty; real series omit some
            if keyword not in copy:
                setattr(copy, keyword, "")
        out.append(copy)
    return out


_TYPE2_PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                        "ReferringPhysicianName", "StudyID", "AccessionNumber")


def _segmentation(series: ReferenceSeries, pixels: np.ndarray, descriptions, config: RtExportConfig):
    return hd.seg.Segmentation(
        source_images=_shared_orientation(series),
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=config.series_number + 1,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="WeakSeg",
        manufacturer_model_name=config.model_name[:64],
        software_versions=f"weakseg {weakseg.__version__}",
        device_serial_number="0",
        series_description=config.series_description[:64],
    )


def _rgb_to_lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """sRGB (0-255) → CIE L*a*b* (D65), what DICOM's RecommendedDisplayCIELabValue encodes."""
    c = np.asarray(rgb, dtype=float) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ c
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = (116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2]))
    return (float(np.clip(lab[0], 0, 100)), float(np.clip(lab[1], -128, 127)), float(np.clip(lab[2], -128, 127)))


def write_seg(segset: SegmentSet, series: ReferenceSeries, out_path: str | Path,
              config: RtExportConfig = RtExportConfig(), source: str | Path | None = None) -> Path:
    from weakseg.rt.reference import onto_series

    reference_check(series)
    segset = onto_series(segset, series, source)
    seg = build_seg(segset, series, config)
    out_path = Path(out_path)
    write_with(out_path, lambda tmp: seg.save_as(tmp))
    return out_path
