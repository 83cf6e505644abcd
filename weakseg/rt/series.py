"""Reference image series: the geometry and UIDs an RTSTRUCT or SEG must point at.

Read with pydicom directly (headers only) so that exporters know, per slice, the exact
plane (ImagePositionPatient) and the SOP Instance UID a contour on that plane references.
Also writes small synthetic CT/MR series, for tests and benchmarks, from a SimpleITK image
of any orientation.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from weakseg.errors import WeakSegError

log = logging.getLogger("weakseg")

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
IMAGE_STORAGE = {CT_IMAGE_STORAGE: "CT", MR_IMAGE_STORAGE: "MR", "1.2.840.10008.5.1.4.1.1.128": "PT"}


@dataclass
class ReferenceSeries:
    """Slices of one image series sorted along the slice normal (increasing position)."""

    folder: Path
    datasets: list[Dataset]      # headers only, sorted
    files: list[Path]            # same order
    positions: np.ndarray        # (n, 3) ImagePositionPatient, LPS mm
    row_dir: np.ndarray          # IOP[:3]: direction of increasing column index
    col_dir: np.ndarray          # IOP[3:]: direction of increasing row index
    normal: np.ndarray
    pixel_spacing: tuple[float, float]  # (between rows, between columns) as in DICOM
    rows: int
    columns: int

    @property
    def first(self) -> Dataset:
        return self.datasets[0]

    @property
    def sop_uids(self) -> list[str]:
        return [str(ds.SOPInstanceUID) for ds in self.datasets]

    @property
    def frame_of_reference_uid(self) -> str:
        return str(self.first.FrameOfReferenceUID)

    @property
    def series_uid(self) -> str:
        return str(self.first.SeriesInstanceUID)

    @property
    def study_uid(self) -> str:
        return str(self.first.StudyInstanceUID)

    def slice_offsets(self) -> np.ndarray:
        """Position of each plane along the normal (mm)."""
        return self.positions @ self.normal

    def is_uniform(self, tolerance: float = 0.01) -> bool:
        """Whether the planes are equally spaced (a dropped slice makes them not)."""
        gaps = np.diff(self.slice_offsets())
        return len(gaps) == 0 or float(np.ptp(gaps)) <= tolerance * float(np.median(gaps))

    def grid(self) -> sitk.Image:
        """An empty image on this series' grid; only exact for a uniform series (see :meth:`plane_grid`)."""
        image = sitk.Image(self.columns, self.rows, len(self.datasets), sitk.sitkUInt8)
        offsets = self.slice_offsets()
        gaps = np.diff(offsets)
        dz = float(np.median(gaps)) if len(offsets) > 1 else float(self.first.get("SliceThickness", 1.0) or 1.0)
        image.SetSpacing((self.pixel_spacing[1], self.pixel_spacing[0], dz))
        image.SetOrigin(tuple(float(v) for v in self.positions[0]))
        image.SetDirection(tuple(np.column_stack([self.row_dir, self.col_dir, self.normal]).ravel().tolist()))
        return image

    def plane_grid(self, k: int) -> sitk.Image:
        """A one-plane image exactly at plane ``k``'s true position."""
        image = sitk.Image(self.columns, self.rows, 1, sitk.sitkUInt8)
        image.SetSpacing((self.pixel_spacing[1], self.pixel_spacing[0], 1.0))
        image.SetOrigin(tuple(float(v) for v in self.positions[k]))
        image.SetDirection(tuple(np.column_stack([self.row_dir, self.col_dir, self.normal]).ravel().tolist()))
        return image

    @property
    def identity(self):
        from weakseg.io.dicom_identity import DicomIdentity

        return DicomIdentity.of(self.first)

    def plane_to_patient(self, k: int, rc: np.ndarray) -> np.ndarray:
        """(row, col) pixel coordinates on plane ``k`` → (n, 3) LPS points, exactly on that plane."""
        rc = np.asarray(rc, dtype=float)
        return (self.positions[k][None, :]
                + np.outer(rc[:, 1] * self.pixel_spacing[1], self.row_dir)
                + np.outer(rc[:, 0] * self.pixel_spacing[0], self.col_dir))

    def patient_to_plane(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 3) LPS points → ((n, 2) continuous (row, col), (n,) offset along the normal)."""
        rel = np.asarray(points, dtype=float) - self.positions[0][None, :]
        col = rel @ self.row_dir / self.pixel_spacing[1]
        row = rel @ self.col_dir / self.pixel_spacing[0]
        return np.column_stack([row, col]), points @ self.normal


def _is_image(ds: Dataset) -> bool:
    """A CT/MR/PET image slice (RT objects, SEG, SR and presentation states are not)."""
    return "Rows" in ds and "SeriesInstanceUID" in ds and str(ds.get("Modality", "")) not in _NOT_IMAGES


_NOT_IMAGES = {"RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "SEG", "SR", "PR", "KO", "REG", "DOC"}


def read_reference_series(folder: str | Path, series_uid: str | None = None,
                          prefer_series_uid: str | None = None) -> ReferenceSeries:
    """Read the image series in a folder, DICOMDIR or zip (other objects such as RTSTRUCTs are ignored).

    With several image series present, ``series_uid`` picks one (it must be there);
    ``prefer_series_uid`` picks one when present (a study folder holding the segmented series);
    otherwise several series are an error.
    """
    from weakseg.io.dicom_files import open_dicom_input

    folder = Path(folder)
    if not folder.exists():
        raise WeakSegError("reference series folder not found", folder)
    with open_dicom_input(folder) as source:
        by_series = _image_slices(source)
    if not by_series:
        raise WeakSegError("no DICOM image slices found (expected a CT/MR series)", folder)
    if series_uid is not None:
        if series_uid not in by_series:
            raise WeakSegError(f"the referenced series {series_uid} is not in this folder "
                               f"(found {', '.join(sorted(by_series))})", folder)
        items = by_series[series_uid]
    elif prefer_series_uid is not None and prefer_series_uid in by_series:
        items = by_series[prefer_series_uid]
    elif len(by_series) > 1:
        listing = "; ".join(f"'{v[0][1].get('SeriesDescription', '')}' (UID {k})" for k, v in by_series.items())
        raise WeakSegError(f"holds {len(by_series)} image series ({listing}); give the folder of the one series the "
                           "contours belong to", folder)
    else:
        items = next(iter(by_series.values()))
    if len({str(ds.get("SOPClassUID", "")) for _, ds in items} & ENHANCED_IMAGE_STORAGE) or \
            any(int(ds.get("NumberOfFrames", 1) or 1) > 1 for _, ds in items):
        raise WeakSegError("the reference is an enhanced multi-frame series; RTSTRUCT/SEG export references classic "
                           "single-frame images only (the scanner or PACS can export those)", items[0][0])
    return _build(folder, items)


ENHANCED_IMAGE_STORAGE = {"1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.4.4", "1.2.840.10008.5.1.4.1.1.2.1",
                          "1.2.840.10008.5.1.4.1.1.2.2"}


def _image_slices(source) -> dict[str, list[tuple[Path, Dataset]]]:
    """Image slices by SeriesInstanceUID; copies of one SOP instance once."""
    from weakseg.io.dicom_files import unique_headers

    by_series: dict[str, list[tuple[Path, Dataset]]] = {}
    for path, ds, is_copy in unique_headers(source):
        if not is_copy and _is_image(ds):
            by_series.setdefault(str(ds.SeriesInstanceUID), []).append((path, ds))
    return by_series


def _vector(ds: Dataset, keyword: str, count: int, path: Path) -> np.ndarray:
    try:
        value = np.array([float(v) for v in ds.get(keyword)], dtype=float)
    except (TypeError, ValueError):
        value = np.array([])
    if value.size != count or not np.all(np.isfinite(value)):
        raise WeakSegError(f"reference slice lacks a valid {keyword}; contours cannot be placed on it", path)
    return value


def _build(folder: Path, items: list[tuple[Path, Dataset]]) -> ReferenceSeries:
    first_path, first = items[0]
    iop = _vector(first, "ImageOrientationPatient", 6, first_path)
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    spacing = _vector(first, "PixelSpacing", 2, first_path)
    if np.any(spacing <= 0):
        raise WeakSegError(f"reference slice has PixelSpacing {spacing.tolist()}; it must be positive", first_path)
    for path, ds in items:
        other = _vector(ds, "ImageOrientationPatient", 6, path)
        if not np.allclose(other, iop, atol=1e-4):
            raise WeakSegError("slices have different orientations (not one volume)", path)
        if (int(ds.Rows), int(ds.Columns)) != (int(first.Rows), int(first.Columns)):
            raise WeakSegError("slices have different sizes (not one volume)", path)
        if not np.allclose(_vector(ds, "PixelSpacing", 2, path), spacing, atol=1e-4):
            raise WeakSegError("slices have different pixel spacings (not one volume)", path)
    positions = np.array([_vector(ds, "ImagePositionPatient", 3, path) for path, ds in items])
    order = np.argsort(positions @ normal, kind="stable")
    offsets = (positions @ normal)[order]
    if len(offsets) > 1 and np.min(np.diff(offsets)) < 1e-3:
        raise WeakSegError("two slices share one position (duplicate or multi-volume series)", folder)
    return ReferenceSeries(
        folder=folder, datasets=[items[i][1] for i in order], files=[items[i][0] for i in order],
        positions=positions[order], row_dir=row_dir, col_dir=col_dir, normal=normal,
        pixel_spacing=(float(spacing[0]), float(spacing[1])), rows=int(first.Rows), columns=int(first.Columns),
    )


def _ds_str(value: float) -> str:
    """A DS value of at most 16 characters."""
    return pydicom.valuerep.format_number_as_ds(float(value))


def write_synthetic_series(image: sitk.Image, folder: str | Path, modality: str = "CT", *,
                           patient_name: str = "WeakSeg^Synthetic", patient_id: str = "WS0001") -> list[Path]:
    """Write ``image`` as a single-frame CT or MR series (one file per slice) and return the files.

    Any direction matrix works: the first two columns become ImageOrientationPatient and
    slice ``k`` sits at ``image``'s physical point of index (0, 0, k). Intended for tests and
    benchmarks: the images pass dciodvfy but carry no real acquisition parameters.
    """
    if modality not in ("CT", "MR"):
        raise ValueError("modality must be CT or MR")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arr = sitk.GetArrayFromImage(image)
    arr = np.clip(arr, -32768, 32767).astype(np.int16)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    iop = [_ds_str(v) for v in np.concatenate([direction[:, 0], direction[:, 1]])]
    sx, sy, sz = image.GetSpacing()
    now = datetime.datetime.now()
    study_uid, series_uid, for_uid = generate_uid(), generate_uid(), generate_uid()
    sop_class = CT_IMAGE_STORAGE if modality == "CT" else MR_IMAGE_STORAGE
    files = []
    for k in range(arr.shape[0]):
        ipp = image.TransformIndexToPhysicalPoint((0, 0, k))
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"] if modality == "CT" else ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
        ds.AccessionNumber = ""
        ds.Modality = modality
        ds.Manufacturer = "WeakSeg synthetic"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = "WeakSeg synthetic study"
        ds.SeriesDescription = f"Synthetic {modality}"
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = 1
        ds.InstanceNumber = k + 1
        ds.PatientOrientation = ""
        ds.Laterality = ""
        ds.PatientPosition = "HFS"
        ds.FrameOfReferenceUID = for_uid
        ds.PositionReferenceIndicator = ""
        ds.ImagePositionPatient = [_ds_str(v) for v in ipp]
        ds.ImageOrientationPatient = iop
        ds.PixelSpacing = [_ds_str(sy), _ds_str(sx)]
        ds.SliceThickness = _ds_str(sz)
        ds.SliceLocation = _ds_str(float(np.dot(ipp, direction[:, 2])))
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = int(arr.shape[1]), int(arr.shape[2])
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        if modality == "CT":
            ds.KVP = ""
            ds.AcquisitionNumber = 1
            ds.RescaleIntercept = "0"
            ds.RescaleSlope = "1"
            ds.RescaleType = "HU"
        else:
            ds.ScanningSequence = "SE"
            ds.SequenceVariant = "NONE"
            ds.ScanOptions = ""
            ds.MRAcquisitionType = "3D"
            ds.EchoTime = ""
            ds.EchoTrainLength = ""
            ds.RepetitionTime = ""
            ds.MagneticFieldStrength = ""
        ds.PixelData = arr[k].tobytes()
        path = folder / f"{modality}{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files
