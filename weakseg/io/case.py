"""A case: the MRI sequences of one study, on one reference grid, plus optional labels.

Sources are a BraTS 2018 folder (``*_flair``, ``*_t1``, ``*_t1ce``, ``*_t2``, ``*_seg``),
a BraTS 2021+/2023 folder (``*-t1n``, ``*-t1c``, ``*-t2w``, ``*-t2f``, ``*-seg``), explicit
paths per sequence, or a DICOM folder (see ``weakseg.io.dicom``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import SimpleITK as sitk

from weakseg import SEQUENCES
from weakseg.io.dicom_identity import DicomIdentity
from weakseg.errors import WeakSegError
from weakseg.io.image import has_image_suffix, read_images, resample_to, same_grid
from weakseg.io.overlap import coverage_fraction

log = logging.getLogger("weakseg")

# File-name suffix (before the extension) → canonical sequence. Both BraTS conventions.
_NAME_PATTERNS = {
    "t1": re.compile(r"[_-](t1|t1n)$", re.I),
    "t1c": re.compile(r"[_-](t1ce|t1c|t1gd)$", re.I),
    "t2": re.compile(r"[_-](t2|t2w)$", re.I),
    "flair": re.compile(r"[_-](flair|t2f)$", re.I),
    "seg": re.compile(r"[_-](seg|label|labels)$", re.I),
}

MIN_OVERLAP = 0.5
"""Sequences covering less than this fraction of the reference's extent are refused, not resampled."""


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".nhdr"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def find_case_files(folder: Path) -> dict[str, Path]:
    """Map canonical sequence names (and 'seg') to files in a BraTS-style folder."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not has_image_suffix(path):
            continue
        stem = _stem(path)
        for key, pattern in _NAME_PATTERNS.items():
            if pattern.search(stem):
                if key in found:
                    raise WeakSegError(f"two files match sequence '{key}': {found[key].name} and {path.name}", folder)
                found[key] = path
                break
    return found


MISSING_PREFIX = "missing sequence(s) "


@dataclass
class Case:
    """Sequences on the reference grid. Voxels are never modified on load."""

    case_id: str
    images: dict[str, sitk.Image]
    labels: sitk.Image | None = None
    reference: str = "flair"
    sources: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    series_uids: dict[str, str] = field(default_factory=dict)  # sequence -> DICOM SeriesInstanceUID
    identity: DicomIdentity | None = None  # patient/study/frame of reference of the reference sequence (DICOM only)
    originals: dict[str, sitk.Image] = field(default_factory=dict)  # sequences as read, before resampling (for registration)

    def dicom_provenance(self) -> dict | None:
        """UIDs for provenance (never PatientID): which series were read, and their frame of reference."""
        if not self.series_uids:
            return None
        return {"series_uids": dict(self.series_uids), **(self.identity.provenance() if self.identity else {})}

    @property
    def grid(self) -> sitk.Image:
        """The reference image: every output is written on its exact grid."""
        return self.images[self.reference]

    @property
    def missing(self) -> list[str]:
        return [s for s in SEQUENCES if s not in self.images]

    def warnings_for(self, sequences: tuple[str, ...] | list[str]) -> list[str]:
        """The load warnings that matter to a model reading ``sequences``: 'missing sequence(s)' only when it
        reads one of them (an OAR model reads one T1 and is not helped by hearing that FLAIR is absent)."""
        reads_missing = any(s not in self.images for s in sequences)
        return [w for w in self.warnings if reads_missing or not w.startswith(MISSING_PREFIX)]

    def require(self, sequences: tuple[str, ...] | list[str]) -> None:
        lacking = [s for s in sequences if s not in self.images]
        if lacking:
            from weakseg.models.registry import runnable_models

            raise WeakSegError(f"case lacks sequence(s) {', '.join(lacking)}; present: {', '.join(self.images) or 'none'}; "
                               f"installed models that can run on it: {', '.join(runnable_models(self.images)) or 'none'}",
                               self.case_id)


def _pick_reference(images: dict[str, sitk.Image], preferred: str) -> str:
    if preferred in images:
        return preferred
    for name in ("flair", "t1c", "t1", "t2"):
        if name in images:
            return name
    raise WeakSegError("no MRI sequence found")


def _agree(images: dict[str, sitk.Image], names: list[str]) -> bool:
    first = images[names[0]]
    return all(same_grid(images[n], first) or coverage_fraction(first, images[n]) >= MIN_OVERLAP for n in names[1:])


def assemble_case(case_id: str, images: dict[str, sitk.Image], sources: dict[str, Path],
                  labels: sitk.Image | None = None, reference: str = "flair", log_warnings: bool = True) -> Case:
    """Put every sequence (and labels) on the reference grid, warning when resampling.

    Warnings (resampling, missing sequences) are kept in ``Case.warnings`` and, unless
    ``log_warnings`` is False, logged; a command that may still refuse the case (it
    lacks a sequence the method needs) loads quietly and logs them itself.
    """
    if not images:
        raise WeakSegError("no MRI sequence found (expected flair, t1, t1c/t1ce, t2 files)", case_id)
    ref_name = _pick_reference(images, reference)
    ref = images[ref_name]
    warnings: list[str] = []
    # Refuse before resampling anything, so a bad study gives one error and no warnings.
    outliers = [n for n, image in images.items() if not same_grid(image, ref) and coverage_fraction(ref, image) < MIN_OVERLAP]
    others = [n for n in images if n != ref_name]
    if len(others) >= 2 and set(outliers) == set(others) and _agree(images, others):
        # every other sequence misses the reference but they agree with each other: the reference is the odd one
        raise WeakSegError(f"the reference sequence '{ref_name}' does not overlap the other sequences "
                           f"({', '.join(others)}), which agree with each other; it is damaged or from another study",
                           sources.get(ref_name, case_id))
    for name, image in images.items():
        if not same_grid(image, ref):
            frac = coverage_fraction(ref, image)
            if frac < MIN_OVERLAP:
                raise WeakSegError(
                    f"sequence '{name}' covers only {frac:.0%} of the {ref_name} extent; sequences do not belong to one "
                    "study or are not co-registered", sources.get(name, case_id))
    if labels is not None and not same_grid(labels, ref) and coverage_fraction(ref, labels) < MIN_OVERLAP:
        raise WeakSegError(f"labels do not overlap the {ref_name} grid", sources.get("seg", case_id))
    aligned: dict[str, sitk.Image] = {}
    for name, image in images.items():
        if same_grid(image, ref):
            image.CopyInformation(ref)  # snap float round-off so later arithmetic is exact
            aligned[name] = image
            continue
        msg = (f"{name} resampled onto the {ref_name} grid ({'x'.join(map(str, image.GetSize()))} -> "
               f"{'x'.join(map(str, ref.GetSize()))} voxels)")
        warnings.append(msg)
        aligned[name] = resample_to(image, ref)
    if labels is not None and not same_grid(labels, ref):
        msg = f"labels resampled (nearest neighbour) onto the {ref_name} grid"
        warnings.append(msg)
        labels = resample_to(labels, ref, nearest=True)
    elif labels is not None:
        labels.CopyInformation(ref)
    missing = [s for s in SEQUENCES if s not in aligned]
    if missing:
        from weakseg.models.registry import runnable_models

        msg = (f"{MISSING_PREFIX}{', '.join(missing)}; installed models that can run on it: "
               f"{', '.join(runnable_models(aligned)) or 'none'}")
        warnings.append(msg)
    if log_warnings:
        for msg in warnings:
            log.warning(msg)
    return Case(case_id, aligned, labels, ref_name, dict(sources), warnings, originals=dict(images))


def load_case(source: str | Path | None = None, *, sequences: dict[str, str | Path] | None = None,
              labels: str | Path | None = None, reference: str = "flair", case_id: str | None = None,
              log_warnings: bool = True, allow_mixed_studies: bool = False) -> Case:
    """Load a case folder, a DICOM folder / DICOMDIR / zip, or explicit per-sequence inputs.

    ``sequences`` maps canonical names (t1, t1c, t2, flair) to image files or DICOM series
    folders and overrides or replaces what is found in ``source``. DICOM sequences must share
    patient and study (``allow_mixed_studies`` lifts the study rule, never the patient rule).
    """
    files: dict[str, Path] = {}
    if source is not None:
        folder = Path(source)
        if not folder.exists():
            raise WeakSegError("case folder not found", folder)
        if folder.is_file():
            from weakseg.io.dicom_files import is_dicom_input  # pydicom only where DICOM may be read

            if not is_dicom_input(folder):
                raise WeakSegError("is a file; give a case folder, a DICOMDIR or zip archive, or the sequences "
                                   "explicitly (--flair PATH ...)", folder)
        files = find_case_files(folder) if folder.is_dir() else {}
        if not files:
            from weakseg.io.dicom import load_dicom_case
            from weakseg.io.dicom_files import is_dicom_input

            if is_dicom_input(folder):
                return load_dicom_case(folder, reference=reference, overrides=sequences, labels=labels,
                                       log_warnings=log_warnings, allow_mixed_studies=allow_mixed_studies,
                                       case_id=case_id)
            raise WeakSegError("no MRI files found (BraTS naming *_flair/_t1/_t1ce/_t2 or *-t2f/-t1n/-t1c/-t2w, or DICOM)", folder)
        case_id = case_id or folder.name
    for name, path in (sequences or {}).items():
        if name not in SEQUENCES:
            raise WeakSegError(f"unknown sequence '{name}' (expected one of {', '.join(SEQUENCES)})")
        files[name] = Path(path)
    if labels is not None:
        files["seg"] = Path(labels)
    images, series = {}, {}
    plain = [name for name, path in files.items() if name == "seg" or not _is_series_input(path)]  # image files
    read = dict(zip(plain, read_images([files[name] for name in plain])))
    for name, path in files.items():
        if name == "seg":
            continue
        if _is_series_input(path):
            from weakseg.io.dicom import read_series_input

            images[name], series[name] = read_series_input(path, f"--{name}")
        else:
            images[name] = read[name]
    warnings: list[str] = []
    if series:
        from weakseg.io.dicom import pseudonym
        from weakseg.io.dicom_identity import check_one_study

        warnings = check_one_study({name: info.identity for name, info in series.items()}, allow_mixed_studies)
        case_id = case_id or pseudonym(next(iter(series.values())).study_uid, next(iter(files.values())))
    if case_id is None:
        first = next(iter(files.values()), None)
        case_id = _stem(first).rsplit("_", 1)[0] if first else "case"
    label_image = read.get("seg")
    case = assemble_case(case_id, images, files, label_image, reference, log_warnings=False)
    return finish_case(case, series, warnings, log_warnings)


def finish_case(case: Case, dicom_series: dict, warnings: list[str], log_warnings: bool) -> Case:
    """Record the DICOM series (UIDs, identity), put the loading warnings first, and log them once."""
    if dicom_series:
        from weakseg.io.dicom import attach_dicom

        attach_dicom(case, dicom_series)
    case.warnings[:0] = warnings
    if log_warnings:
        for msg in case.warnings:
            log.warning(msg)
    return case


def _is_series_input(path: Path) -> bool:
    """A DICOM series given as a folder, DICOMDIR or zip (not an image file)."""
    if path.is_dir():
        return True
    return path.is_file() and (path.name.upper() == "DICOMDIR" or path.suffix.lower() == ".zip")
