"""Write an RT Structure Set that references the original image series (pydicom).

highdicom has no RTSTRUCT writer, so the IOD is assembled here: patient, study and frame
of reference copied from the reference series only; new series and SOP instance UIDs;
one Contour Image Sequence item per contour pointing at the slice it lies on; per ROI a
name, colour, RT ROI Interpreted Type, SNOMED CT code and AUTOMATIC generation with the
model's name and version. Every DS value is formatted to at most 16 characters.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import ImplicitVRLittleEndian, generate_uid

import weakseg
from weakseg.errors import WeakSegError
from weakseg.io.atomic import write_with
from weakseg.rt.contours import ContourConfig, keyhole, mask_rings
from weakseg.rt.segments import Segment, SegmentSet
from weakseg.rt.series import ReferenceSeries

log = logging.getLogger("weakseg")

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
DETACHED_STUDY_MANAGEMENT = "1.2.840.10008.3.1.2.3.1"
CONTOUR_DATA = Tag(0x3006, 0x0050)
MAX_CONTOUR_POINTS = 10000  # a limit some planning systems have; reached only by a whole-body outline

_PATIENT_STUDY_KEYWORDS = (
    "SpecificCharacterSet", "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "PatientAge", "PatientWeight", "PatientSize", "OtherPatientIDsSequence", "PatientComments",
    "PatientIdentityRemoved", "DeidentificationMethod", "StudyInstanceUID", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber", "StudyDescription",
)
_TYPE2_DEFAULTS = {"PatientName": "", "PatientID": "", "PatientBirthDate": "", "PatientSex": "",
                   "StudyDate": "", "StudyTime": "", "ReferringPhysicianName": "", "StudyID": "", "AccessionNumber": ""}


@dataclass(frozen=True)
class RtExportConfig:
    """Options shared by the RTSTRUCT and SEG exporters."""

    model_name: str = "WeakSeg"
    model_version: str = weakseg.__version__
    contours: ContourConfig = field(default_factory=ContourConfig)
    series_description: str = "WeakSeg structures"
    structure_set_label: str = "WeakSeg"
    series_number: int = 9001


def _contour_data(points: np.ndarray) -> RawDataElement:
    """Contour Data as a ready-encoded DS element: values of at most 16 characters (micrometre
    precision). Encoding it directly skips pydicom's per-value DS objects, which took 5 s for
    the 10-ROI benchmark."""
    text = "\\".join(map("{:.3f}".format, (np.round(points, 3).ravel() + 0.0).tolist()))  # + 0.0: no "-0.000"
    data = text.encode("ascii")
    if len(data) % 2:
        data += b" "
    return RawDataElement(CONTOUR_DATA, "DS", len(data), data, 0, True, True)


def _trim(text: str, limit: int) -> str:
    """Fit a string VR: no backslash (the value separator) or control characters, at most ``limit`` characters."""
    clean = "".join(ch for ch in str(text).replace("\\", "/") if ch.isprintable())
    return clean[:limit]


def _copy_patient_study(ref: Dataset, ds: Dataset) -> None:
    for keyword in _PATIENT_STUDY_KEYWORDS:
        if keyword in ref:
            ds[keyword] = ref[keyword]
    for keyword, default in _TYPE2_DEFAULTS.items():
        if keyword not in ds:
            setattr(ds, keyword, default)


def _code_item(code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme
    item.CodeMeaning = _trim(code.meaning, 64)
    return item


def _image_ref(series: ReferenceSeries, k: int) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = series.datasets[k].SOPClassUID
    item.ReferencedSOPInstanceUID = series.datasets[k].SOPInstanceUID
    return item


def segment_contours(seg: Segment, series: ReferenceSeries, config: ContourConfig) -> list[tuple[int, np.ndarray]]:
    """(slice index, (n, 3) LPS points) for every contour of one segment, holes included."""
    out = []
    for k, rings in sorted(mask_rings(seg.mask, series.pixel_spacing, config).items()):
        for points in keyhole(rings):
            if len(points) > MAX_CONTOUR_POINTS:
                points = points[:: int(np.ceil(len(points) / MAX_CONTOUR_POINTS))]
            out.append((int(k), series.plane_to_patient(int(k), points)))
    return out


def build_rtstruct(segset: SegmentSet, series: ReferenceSeries, config: RtExportConfig) -> Dataset:
    """The RT Structure Set dataset (not yet written). Segments must be on ``series``' grid."""
    ref = series.first
    now = datetime.datetime.now()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ImplicitVRLittleEndian  # 32-bit lengths: long Contour Data fits
    ds = Dataset()
    ds.file_meta = meta
    _copy_patient_study(ref, ds)
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = config.series_number
    ds.SeriesDate = now.strftime("%Y%m%d")
    ds.SeriesTime = now.strftime("%H%M%S")
    ds.SeriesDescription = _trim(config.series_description, 64)
    ds.OperatorsName = ""
    ds.FrameOfReferenceUID = series.frame_of_reference_uid
    ds.PositionReferenceIndicator = ref.get("PositionReferenceIndicator", "")
    ds.Manufacturer = "WeakSeg"
    ds.ManufacturerModelName = _trim(config.model_name, 64)
    ds.SoftwareVersions = _trim(f"weakseg {weakseg.__version__}", 64)
    ds.InstanceNumber = 1
    ds.StructureSetLabel = _trim(config.structure_set_label, 16)
    ds.StructureSetName = _trim(f"{config.model_name} {config.model_version}", 64)
    ds.StructureSetDescription = _trim(f"Automatic segmentation by {config.model_name} {config.model_version}", 1024)
    ds.StructureSetDate = now.strftime("%Y%m%d")
    ds.StructureSetTime = now.strftime("%H%M%S")

    series_item = Dataset()
    series_item.SeriesInstanceUID = series.series_uid
    series_item.ContourImageSequence = Sequence([_image_ref(series, k) for k in range(len(series.datasets))])
    study_item = Dataset()
    study_item.ReferencedSOPClassUID = DETACHED_STUDY_MANAGEMENT
    study_item.ReferencedSOPInstanceUID = series.study_uid
    study_item.RTReferencedSeriesSequence = Sequence([series_item])
    for_item = Dataset()
    for_item.FrameOfReferenceUID = series.frame_of_reference_uid
    for_item.RTReferencedStudySequence = Sequence([study_item])
    ds.ReferencedFrameOfReferenceSequence = Sequence([for_item])

    roi_items, contour_items, observation_items = [], [], []
    algorithm = _trim(f"{config.model_name} {config.model_version}", 64)
    for seg in segset.segments:
        contours = segment_contours(seg, series, config.contours)
        if not contours:
            log.warning("ROI %r has no contour above %.3g mm2; left out", seg.style.name, config.contours.min_area_mm2)
            continue
        number = len(roi_items) + 1
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = series.frame_of_reference_uid
        roi.ROIName = _trim(seg.style.name, 64)
        roi.ROIGenerationAlgorithm = "AUTOMATIC"
        roi.ROIGenerationDescription = algorithm
        roi_items.append(roi)

        roi_contour = Dataset()
        roi_contour.ROIDisplayColor = [int(c) for c in seg.style.colour]
        items = []
        for index, (k, points) in enumerate(contours):
            item = Dataset()
            item.ContourImageSequence = Sequence([_image_ref(series, k)])
            item.ContourGeometricType = "CLOSED_PLANAR"
            item.NumberOfContourPoints = len(points)
            item.ContourNumber = index + 1
            item[CONTOUR_DATA] = _contour_data(points)
            # marks the item as already in the file's encoding, so the writer keeps the raw value as is
            item.set_original_encoding(True, True, item._character_set)
            items.append(item)
        roi_contour.ContourSequence = Sequence(items)
        roi_contour.ReferencedROINumber = number
        contour_items.append(roi_contour)

        obs = Dataset()
        obs.ObservationNumber = number
        obs.ReferencedROINumber = number
        if seg.style.code is not None:
            obs.RTROIIdentificationCodeSequence = Sequence([_code_item(seg.style.code)])
        obs.RTROIInterpretedType = seg.style.interpreted_type
        obs.ROIInterpreter = ""
        observation_items.append(obs)
    if not roi_items:
        raise WeakSegError("the labels are empty: no ROI has a contour to export")
    ds.StructureSetROISequence = Sequence(roi_items)
    ds.ROIContourSequence = Sequence(contour_items)
    ds.RTROIObservationsSequence = Sequence(observation_items)
    ds.ApprovalStatus = "UNAPPROVED"
    return ds


def write_rtstruct(segset: SegmentSet, series: ReferenceSeries, out_path: str | Path,
                   config: RtExportConfig = RtExportConfig(), source: str | Path | None = None) -> Path:
    """Build and atomically write the RTSTRUCT; nothing is written when anything fails.

    Identity is the caller's to check first (``weakseg.rt.reference.verify_reference``)."""
    from weakseg.rt.reference import onto_series

    reference_check(series)
    segset = onto_series(segset, series, source)
    ds = build_rtstruct(segset, series, config)
    out_path = Path(out_path)
    write_with(out_path, lambda tmp: ds.save_as(tmp, enforce_file_format=True))
    return out_path


def reference_check(series: ReferenceSeries) -> None:
    """Refuse series an RTSTRUCT cannot reference."""
    for keyword in ("FrameOfReferenceUID", "StudyInstanceUID", "SOPClassUID"):
        if keyword not in series.first:
            raise WeakSegError(f"reference images lack {keyword}", series.files[0])


__all__ = ["RtExportConfig", "build_rtstruct", "write_rtstruct", "segment_contours", "reference_check"]
