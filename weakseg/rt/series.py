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

    def grid(self) -> sitk.Image:
        """An empty image on this series' grid (uniform slice spacing assumed for the image only)."""
        image = sitk.Image(self.columns, self.rows, len(self.datasets), sitk.sitkUInt8)
        offsets = self.slice_offsets()
        gaps = np.diff(offsets)
        dz = float(np.median(gaps)) if len(offsets) > 1 else float(self.first.get("SliceThickness", 1.0) or 1.0)
        if len(gaps) and np.ptp(gaps) > 0.01 * dz:
            log.warning("%s: slice spacing varies (%.3g to %.3g mm); labels are matched to slices by index",
                        self.folder, gaps.min(), gaps.max())
        image.SetSpacing((self.pixel_spacing[1], self.pixel_spacing[0], dz))
        image.SetOrigin(tuple(float(v) for v in self.positions[0]))
        image.SetDirection(tuple(np.column_stack([self.row_dir, self.col_dir, self.normal]).ravel().tolist()))
        return image

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
    return "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds and "Rows" in ds


def read_reference_series(folder: str | Path, series_uid: str | None = None) -> ReferenceSeries:
    """Read the image series in ``folder`` (other objects such as RTSTRUCTs are ignored).

    With several image series present, ``series_uid`` picks one; without it that is an error.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WeakSegError("reference series folder not found", folder)
    by_series: dict[str, list[tuple[Path, Dataset]]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # not DICOM: DICOMDIR helpers, text files, caches
            continue
        if _is_image(ds) and "SeriesInstanceUID" in ds:
            by_series.setdefault(str(ds.SeriesInstanceUID), []).append((path, ds))
    if not by_series:
        raise WeakSegError("no DICOM image slices found (expected a CT/MR series)", folder)
    if series_uid is not None:
        if series_uid not in by_series:
            raise WeakSegError(f"the referenced series {series_uid} is not in this folder "
                               f"(found {', '.join(sorted(by_series))})", folder)
        items = by_series[series_uid]
    elif len(by_series) > 1:
        raise WeakSegError(f"holds {len(by_series)} image series; keep one per folder", folder)
    else:
        items = next(iter(by_series.values()))
    return _build(folder, items)


def _build(folder: Path, items: list[tuple[Path, Dataset]]) -> ReferenceSeries:
    first = items[0][1]
    iop = np.array([float(v) for v in first.ImageOrientationPatient])
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    for path, ds in items:
        other = np.array([float(v) for v in ds.ImageOrientationPatient])
        if not np.allclose(other, iop, atol=1e-4):
            raise WeakSegError("slices have different orientations (not one volume)", path)
        if (int(ds.Rows), int(ds.Columns)) != (int(first.Rows), int(first.Columns)):
            raise WeakSegError("slices have different sizes (not one volume)", path)
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for _, ds in items])
    order = np.argsort(positions @ normal, kind="stable")
    offsets = (positions @ normal)[order]
    if len(offsets) > 1 and np.min(np.diff(offsets)) < 1e-3:
        raise WeakSegError("two slices share one position (duplicate or multi-volume series)", folder)
    spacing = tuple(float(v) for v in first.PixelSpacing)
    return ReferenceSeries(
        folder=folder, datasets=[items[i][1] for i in order], files=[items[i][0] for i in order],
        positions=positions[order], row_dir=row_dir, col_dir=col_dir, normal=normal,
        pixel_spacing=(spacing[0], spacing[1]), rows=int(first.Rows), columns=int(first.Columns),
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
