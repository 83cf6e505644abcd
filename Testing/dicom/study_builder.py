"""Clinical-like DICOM studies built from the real vendor series in ../shared/data/dicom.

Each derived series keeps the real pixel data and geometry of its source and gets new UIDs
and the descriptions, patient, study, frame of reference, timing and contrast fields a test
needs, so the reader meets what scanners send without any new data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pydicom
from pydicom.uid import generate_uid

GE_SERIES = Path("dicom") / "dicom2nifti_ge_anatomical_001" / "dcm"
SIEMENS_SERIES = Path("dicom") / "dicom2nifti_siemens_anatomical_001" / "dcm"


@dataclass
class Patient:
    patient_id: str = "WS-TEST-0001"
    name: str = "DOE^JANE"
    study_uid: str = field(default_factory=generate_uid)
    frame_of_reference: str = field(default_factory=generate_uid)


def write_series(source: Path, folder: Path, description: str, patient: Patient, *, number: int = 1,
                 time: str = "100000", agent: str | None = None, keep: Callable[[int], bool] | None = None,
                 edit: Callable[[pydicom.Dataset, int], None] | None = None, preamble: bool = True) -> list[Path]:
    """Copy the real series in ``source`` as a new series of ``patient`` in ``folder``; returns its files."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    out = []
    for k, path in enumerate(sorted(source.iterdir())):
        if keep is not None and not keep(k):
            continue
        ds = pydicom.dcmread(path)
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.SeriesDescription = description
        ds.SeriesNumber = number
        ds.PatientID, ds.PatientName = patient.patient_id, patient.name
        ds.StudyInstanceUID = patient.study_uid
        ds.FrameOfReferenceUID = patient.frame_of_reference
        ds.SeriesTime = ds.AcquisitionTime = time
        if agent:
            ds.ContrastBolusAgent = agent
        if edit is not None:
            edit(ds, k)
        target = folder / f"{number:03d}_{k:04d}.dcm"
        ds.save_as(target, enforce_file_format=True)
        if not preamble:  # as some older systems and PACS exports write them: no 128-byte preamble, no 'DICM'
            target.write_bytes(target.read_bytes()[132:])
        out.append(target)
    return out


def write_study(source: Path, folder: Path, patient: Patient, descriptions: dict[str, str]) -> dict[str, list[Path]]:
    """One series per description (keys are labels for the test), numbered in order."""
    return {key: write_series(source, folder / key, text, patient, number=n + 1, time=f"10{n:02d}00")
            for n, (key, text) in enumerate(descriptions.items())}
