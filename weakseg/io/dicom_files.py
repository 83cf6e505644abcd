"""Finding DICOM files the way scanners and PACS exports deliver them.

A DICOM input is a folder (searched recursively), a DICOMDIR (only the files it lists), or a
zip archive of either. Files without the 128-byte preamble and 'DICM' prefix are accepted
when pydicom can read them and they carry a SOP Class UID (dcm2niix and pydicom do the
same); copies of one instance (same SOP Instance UID) are read once.

Zip archives are extracted into a private temporary folder that is removed when the
``with`` block ends: member names never choose where a file lands (no path traversal), and
the total size is capped so a zip bomb cannot fill the disk.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pydicom
from pydicom.errors import InvalidDicomError

from weakseg.errors import WeakSegError

log = logging.getLogger("weakseg")

MAX_ZIP_BYTES = 16 * 1024 ** 3
"""Largest total uncompressed size of a zip archive accepted as a DICOM input."""

_READ_ERRORS = (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError, AttributeError, OverflowError)


@dataclass
class DicomInput:
    """Where to look: ``folder`` (for messages) and the candidate files (None: every file under it)."""

    folder: Path
    files: list[Path] | None = None
    shown_as: Path | None = None   # what the user gave (the zip or DICOMDIR), for messages and provenance

    def candidates(self) -> list[Path]:
        if self.files is not None:
            return self.files
        return [p for p in sorted(self.folder.rglob("*"))
                if p.is_file() and p.name.upper() != "DICOMDIR" and not p.name.startswith(".")]


def has_dicm_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_header(path: Path, pixels: bool = False) -> pydicom.Dataset | None:
    """The dataset of a DICOM file, preamble or not; None for files that are not DICOM."""
    magic = has_dicm_magic(path)
    try:
        with warnings.catch_warnings():
            if not magic:  # pydicom guessing at a file that may not be DICOM at all
                warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=not pixels, force=not magic)
    except _READ_ERRORS as exc:
        if magic:
            log.warning("%s: skipped, not a readable DICOM file (%s)", path, exc)
        return None
    if not magic:
        # force=True reads almost anything; a real preamble-less file has a SOP Class UID.
        try:
            if "SOPClassUID" not in ds or not str(ds.SOPClassUID).startswith("1.2.840.10008."):
                return None
            if getattr(ds, "file_meta", None) is None or "TransferSyntaxUID" not in ds.file_meta:
                ds.file_meta = ds.file_meta if getattr(ds, "file_meta", None) is not None else pydicom.dataset.FileMetaDataset()
                ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
        except _READ_ERRORS:
            return None
    return ds


def unique_headers(source: DicomInput):
    """(path, header, is_copy) for every DICOM file of ``source``; ``is_copy``: its SOP instance was seen before."""
    seen: set[str] = set()
    for path in source.candidates():
        ds = read_header(path)
        if ds is None:
            continue
        sop = str(ds.get("SOPInstanceUID", "") or "")
        yield path, ds, bool(sop) and sop in seen
        seen.add(sop)


def is_dicom_file(path: Path) -> bool:
    return has_dicm_magic(path) or read_header(path) is not None


def _dicomdir_files(path: Path) -> list[Path]:
    try:
        from pydicom.fileset import FileSet

        fileset = FileSet(pydicom.dcmread(path))
    except _READ_ERRORS as exc:
        raise WeakSegError(f"not a readable DICOMDIR ({exc})", path) from None
    files = [Path(instance.path) for instance in fileset]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise WeakSegError(f"DICOMDIR lists {len(missing)} file(s) that are missing, e.g. {missing[0]}", path)
    return files


def _extract_zip(path: Path, into: Path) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WeakSegError(f"not a readable zip archive ({exc})", path) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        total = sum(m.file_size for m in members)
        if total > MAX_ZIP_BYTES:
            raise WeakSegError(f"zip archive would unpack to {total / 1024 ** 3:.1f} GB (limit "
                               f"{MAX_ZIP_BYTES / 1024 ** 3:.0f} GB)", path)
        for n, member in enumerate(members):
            name = Path(member.filename).name
            if name.upper() == "DICOMDIR" or name.startswith("."):
                continue
            try:
                with archive.open(member) as source, open(into / f"{n:06d}_{name[-60:]}", "wb") as target:
                    shutil.copyfileobj(source, target)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise WeakSegError(f"zip member {member.filename!r} cannot be read ({exc})", path) from None


def is_dicom_input(path: str | Path) -> bool:
    """A folder holding DICOM files, a DICOMDIR, or a zip archive."""
    path = Path(path)
    if path.is_file():
        return path.name.upper() == "DICOMDIR" or zipfile.is_zipfile(path)
    if not path.is_dir():
        return False
    return any(is_dicom_file(p) for p in DicomInput(path).candidates())


@contextlib.contextmanager
def open_dicom_input(path: str | Path) -> Iterator[DicomInput]:
    """A :class:`DicomInput` for a folder, a DICOMDIR or a zip archive (extracted while in use)."""
    path = Path(path)
    if path.is_dir():
        yield DicomInput(path)
        return
    if not path.exists():
        raise WeakSegError("DICOM folder, DICOMDIR or zip archive not found", path)
    if path.name.upper() == "DICOMDIR":
        yield DicomInput(path.parent, _dicomdir_files(path), shown_as=path)
        return
    if not zipfile.is_zipfile(path):
        raise WeakSegError("is a file, but neither a DICOMDIR nor a zip archive; give the DICOM folder", path)
    with tempfile.TemporaryDirectory(prefix="weakseg-dicom-") as tmp:
        _extract_zip(path, Path(tmp))
        yield DicomInput(Path(tmp), shown_as=path)


__all__ = ["DicomInput", "open_dicom_input", "unique_headers", "is_dicom_input", "is_dicom_file", "read_header", "has_dicm_magic"]
