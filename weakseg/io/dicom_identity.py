"""Whose images these are: patient, study and frame of reference of a DICOM series.

Images meet in two places, and both check identity before any heavy work:

- the sequences of one case must share PatientID and StudyInstanceUID (``--allow-mixed-
  studies`` lets a clinician combine studies of one patient, with a warning kept in
  provenance; different patients are never combined);
- an RTSTRUCT or SEG reference must be the case's patient and frame of reference, or the
  export is refused, naming both patient IDs (never names).

Patient IDs appear only in those error messages: provenance keeps UIDs, not PatientID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

from weakseg.errors import WeakSegError

if TYPE_CHECKING:  # pydicom costs 0.15 s to import; a NIfTI case never needs it
    import pydicom


@dataclass(frozen=True)
class DicomIdentity:
    """``patient_id`` None: not known (an identity read back from provenance, which keeps no PatientID)."""

    patient_id: str | None
    study_uid: str
    frame_of_reference: str

    @classmethod
    def of(cls, ds: pydicom.Dataset) -> "DicomIdentity":
        return cls(str(ds.get("PatientID", "") or "").strip(), str(ds.get("StudyInstanceUID", "") or ""),
                   str(ds.get("FrameOfReferenceUID", "") or ""))

    def provenance(self) -> dict[str, str]:
        """What may be recorded: UIDs only, no PatientID."""
        return {"study_uid": self.study_uid, "frame_of_reference": self.frame_of_reference}


def _patient(identity: DicomIdentity) -> str:
    if identity.patient_id is None:
        return "an unrecorded patient ID"
    return f"patient ID '{identity.patient_id}'" if identity.patient_id else "no patient ID"


def check_one_study(identities: Mapping[str, DicomIdentity], allow_mixed_studies: bool = False) -> list[str]:
    """Refuse sequences of different patients (always) or studies (unless allowed); return warnings."""
    items = [(name, ident) for name, ident in identities.items()]
    if len(items) < 2:
        return []
    name0, first = items[0]
    for name, ident in items[1:]:
        if ident.patient_id != first.patient_id:
            raise WeakSegError(f"sequence '{name}' belongs to {_patient(ident)}, '{name0}' to {_patient(first)}: "
                               "sequences of different patients are never combined")
    studies = {ident.study_uid for _, ident in items}
    warnings: list[str] = []
    if len(studies) > 1:
        listing = ", ".join(f"{name}: study {ident.study_uid}" for name, ident in items)
        if not allow_mixed_studies:
            raise WeakSegError(f"the sequences come from {len(studies)} different studies ({listing}); give "
                               "--allow-mixed-studies to combine studies of one patient")
        warnings.append(f"sequences combined from {len(studies)} studies of one patient (--allow-mixed-studies): {listing}")
    frames = {ident.frame_of_reference for _, ident in items if ident.frame_of_reference}
    if len(frames) > 1:
        warnings.append("sequences have different frames of reference (FrameOfReferenceUID): the scanner did not "
                        "register them to each other; positions are matched in patient coordinates only")
    return warnings


def check_reference(case_identity: DicomIdentity | None, reference: DicomIdentity, where=None,
                    expected_patient_id: str | None = None) -> None:
    """Refuse an export reference that is not the case's patient and frame of reference."""
    if expected_patient_id is not None and expected_patient_id != reference.patient_id:
        raise WeakSegError(f"the reference series belongs to {_patient(reference)}, not patient ID "
                           f"'{expected_patient_id}' as given; nothing written", where)
    if case_identity is None:
        return
    if case_identity.patient_id is not None and case_identity.patient_id != reference.patient_id:
        raise WeakSegError(f"the reference series belongs to {_patient(reference)}, the segmented images to "
                           f"{_patient(case_identity)}: refusing to write one patient's contours into another's "
                           "record; nothing written", where)
    if case_identity.frame_of_reference and reference.frame_of_reference \
            and case_identity.frame_of_reference != reference.frame_of_reference:
        raise WeakSegError(f"the reference series' frame of reference {reference.frame_of_reference} differs from "
                           f"the segmented images' {case_identity.frame_of_reference} (another session or "
                           "position of this patient); nothing written", where)


def identity_from_provenance(record: Mapping) -> DicomIdentity | None:
    """The DICOM identity a ``*_provenance.json`` recorded (UIDs only), or None."""
    dicom = record.get("dicom") if isinstance(record, Mapping) else None
    if not isinstance(dicom, Mapping) or not dicom.get("frame_of_reference"):
        return None
    return DicomIdentity(None, str(dicom.get("study_uid", "")), str(dicom["frame_of_reference"]))


def first_identity(identities: Iterable[DicomIdentity | None]) -> DicomIdentity | None:
    return next((i for i in identities if i is not None), None)


__all__ = ["DicomIdentity", "check_one_study", "check_reference", "identity_from_provenance"]
