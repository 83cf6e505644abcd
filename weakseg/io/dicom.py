"""DICOM MR series: find them in a folder, build 3D volumes, assign them to sequences.

Geometry is computed here from each slice's ImagePositionPatient and
ImageOrientationPatient, not left to a reader's heuristics: the slice axis is the
normal of the image plane, slices are sorted by their position along it, and the
slice spacing comes from those positions (SliceThickness is the excitation thickness,
which differs from the spacing for gapped or overlapping acquisitions). Oblique
series keep their oblique direction. Anything that cannot be one regular volume is
refused with a one-line ``WeakSegError`` rather than silently mis-stacked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from weakseg import SEQUENCES
from weakseg.errors import WeakSegError
from weakseg.io.image import capture_native_stderr

log = logging.getLogger("weakseg")

ORIENTATION_TOL = 1e-3
"""Largest difference between direction cosines of two slices of one volume."""
GAP_TOL = 0.05
"""Largest deviation of a slice gap from the median gap, as a fraction of it."""

ENHANCED_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.3": "Enhanced MR Color Image Storage",
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.130": "Enhanced PET Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR Image Storage",
}

# SeriesDescription → sequence, tried in this order (t1c before t1; 'T1 FLAIR' is T1-weighted).
_CONTRAST = r"(post|\+\s*c\b|\bc\s*\+|\+|gd|gad|contrast|\bce\b|t1ce|t1c\b|enh)"
DESCRIPTION_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("t1c", re.compile(rf"((t1|mprage|spgr|bravo|vibe|tfe|flash).*{_CONTRAST})|({_CONTRAST}.*(t1|mprage|spgr|bravo|vibe))"
                       r"|post[\s_-]?contrast|t1ce|t1c\b|t1gd", re.I)),
    ("flair", re.compile(r"^(?!.*t1).*(flair|dark[\s_-]?fluid|t2f\b)", re.I)),
    ("t1", re.compile(r"t1|mprage|spgr|bravo|\btfe\b", re.I)),
    ("t2", re.compile(r"t2(?![\s_-]*(\*|star|fl))|\btse\b", re.I)),
)


@dataclass
class SeriesInfo:
    """One series found in a folder (headers only; pixels are read by :func:`read_series`)."""

    uid: str
    description: str
    modality: str
    files: list[Path] = field(default_factory=list)
    series_number: int | None = None
    frame_of_reference: str = ""

    @property
    def n_files(self) -> int:
        return len(self.files)

    def label(self) -> str:
        return f"'{self.description or '(no description)'}' ({self.modality}, {self.n_files} files, UID {self.uid})"


# --- finding series ---------------------------------------------------------------------------

def _has_dicm_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _candidate_files(folder: Path) -> Iterable[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name.upper() != "DICOMDIR" and not path.name.startswith("."):
            yield path


def is_dicom_folder(path: str | Path) -> bool:
    """True when the folder (or a subfolder) holds at least one DICOM Part 10 file."""
    path = Path(path)
    if not path.is_dir():
        return False
    return any(_has_dicm_magic(p) for p in _candidate_files(path))


def list_series(folder: str | Path) -> list[SeriesInfo]:
    """Group the DICOM files under ``folder`` by SeriesInstanceUID, sorted by series number."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeakSegError("DICOM folder not found", folder)
    series: dict[str, SeriesInfo] = {}
    for path in _candidate_files(folder):
        if not _has_dicm_magic(path):
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
            log.warning("%s: skipped, not a readable DICOM file (%s)", path, exc)
            continue
        uid = str(ds.get("SeriesInstanceUID", "")) or f"(no SeriesInstanceUID) {path.parent}"
        info = series.get(uid)
        if info is None:
            number = ds.get("SeriesNumber")
            info = series[uid] = SeriesInfo(
                uid=uid,
                description=str(ds.get("SeriesDescription", "") or "").strip(),
                modality=str(ds.get("Modality", "") or ""),
                series_number=int(number) if number not in (None, "") else None,
                frame_of_reference=str(ds.get("FrameOfReferenceUID", "") or ""),
            )
        info.files.append(path)
    return sorted(series.values(), key=lambda s: (s.series_number is None, s.series_number or 0, s.uid))


# --- building a volume -------------------------------------------------------------------------

def _floats(ds: pydicom.Dataset, keyword: str, count: int, path: Path) -> np.ndarray:
    value = ds.get(keyword)
    try:
        array = np.array([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        array = np.array([])
    if array.size != count:
        raise WeakSegError(f"missing or invalid {keyword}; cannot place the slice in space", path)
    return array


def _pixels(ds: pydicom.Dataset, path: Path) -> tuple[np.ndarray, bool]:
    """(rows, cols) stored values, and whether they are already rescaled (GDCM fallback)."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise WeakSegError("DICOM slice has no pixel data", path)
    try:
        return np.asarray(ds.pixel_array), False
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for codecs it lacks
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        try:
            with capture_native_stderr([]):
                image = sitk.ReadImage(str(path))  # GDCM decodes JPEG, JPEG 2000, RLE; it rescales too
        except RuntimeError:
            name = getattr(syntax, "name", syntax)
            raise WeakSegError(f"cannot decode pixel data ({name}): {exc}", path) from None
        array = sitk.GetArrayFromImage(image)
        return array.reshape(array.shape[-2:]), True


def _stored_dtype(ds: pydicom.Dataset) -> np.dtype:
    bits = int(ds.get("BitsAllocated", 16) or 16)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    return np.dtype(f"{'i' if signed else 'u'}{max(bits, 8) // 8}")


def _compact(volume: np.ndarray, integral: bool, stored: np.dtype) -> np.ndarray:
    """The stored integer type when values fit, else int16/int32, else float32.

    Integer slope/intercept keep integers (CT in HU, most MR); any fractional rescale
    gives float32, which holds MR intensities without meaningful loss.
    """
    if np.issubdtype(volume.dtype, np.integer) and volume.dtype == stored:
        return volume
    if integral:
        lo, hi = float(volume.min()), float(volume.max())
        for dtype in (stored, np.dtype(np.int16), np.dtype(np.int32)):
            if np.issubdtype(dtype, np.integer) and np.iinfo(dtype).min <= lo and hi <= np.iinfo(dtype).max:
                return volume.astype(dtype)
    return volume.astype(np.float32)


def read_series(files: Iterable[str | Path]) -> sitk.Image:
    """Build one 3D image from the single-frame slices of a series, geometry from the headers."""
    files = [Path(f) for f in files]
    if not files:
        raise WeakSegError("empty DICOM series")
    where = files[0].parent
    slices = []
    for path in files:
        try:
            ds = pydicom.dcmread(path)
        except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
            raise WeakSegError(f"not a readable DICOM file ({exc})", path) from None
        sop = str(ds.get("SOPClassUID", ""))
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if sop in ENHANCED_SOP_CLASSES or frames > 1:
            kind = ENHANCED_SOP_CLASSES.get(sop, f"multi-frame image ({frames} frames)")
            raise WeakSegError(f"{kind} is not supported; export the series as classic single-frame images", path)
        slices.append((path, ds))
    if len(slices) < 2:
        raise WeakSegError("series has a single slice; a 3D volume needs at least two", files[0])

    first_path, first = slices[0]
    iop = _floats(first, "ImageOrientationPatient", 6, first_path)
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-3) or abs(float(row @ col)) > 1e-3:
        raise WeakSegError("ImageOrientationPatient is not two orthogonal unit vectors", first_path)
    shape = (int(first.Rows), int(first.Columns))
    pixel_spacing = _floats(first, "PixelSpacing", 2, first_path)  # (between rows, between columns)
    positions = []
    for path, ds in slices:
        other = _floats(ds, "ImageOrientationPatient", 6, path)
        if np.abs(other - iop).max() > ORIENTATION_TOL:
            raise WeakSegError(f"slice orientation {np.round(other, 4).tolist()} differs from the series' "
                               f"{np.round(iop, 4).tolist()}; not one volume (localizer or mixed series?)", path)
        if (int(ds.Rows), int(ds.Columns)) != shape:
            raise WeakSegError(f"slice size {ds.Rows}x{ds.Columns} differs from the series' {shape[0]}x{shape[1]}", path)
        if np.abs(_floats(ds, "PixelSpacing", 2, path) - pixel_spacing).max() > 1e-4:
            raise WeakSegError("pixel spacing differs from the rest of the series", path)
        positions.append(_floats(ds, "ImagePositionPatient", 3, path))
    positions = np.array(positions)
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    along, positions = along[order], positions[order]
    slices = [slices[i] for i in order]

    gaps = np.diff(along)
    if gaps.min() < 1e-3:
        dup = slices[int(np.argmin(gaps)) + 1][0]
        raise WeakSegError(f"two slices at the same position {np.round(positions[int(np.argmin(gaps))], 3).tolist()}; "
                           "several echoes, time points or series mixed in one", dup)
    spacing = float(np.median(gaps))
    worst = int(np.argmax(np.abs(gaps - spacing)))
    if abs(gaps[worst] - spacing) > GAP_TOL * spacing:
        raise WeakSegError(f"slice gaps are not uniform ({gaps[worst]:.3f} mm vs median {spacing:.3f} mm); "
                           "missing slices or a non-uniform series", slices[worst + 1][0])
    offsets = positions - positions[0]
    in_plane = np.abs(offsets @ np.stack([row, col]).T).max()
    if in_plane > GAP_TOL * max(float(pixel_spacing.min()), 1e-3) + 1e-3:
        raise WeakSegError(f"slices are shifted in-plane by up to {in_plane:.2f} mm (gantry tilt?); "
                           "cannot stack them as one regular volume", where)

    planes, integral = [], True
    for path, ds in slices:
        array, rescaled = _pixels(ds, path)
        if array.shape != shape:
            raise WeakSegError(f"pixel data of shape {array.shape} is not a single {shape[0]}x{shape[1]} frame", path)
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        if not rescaled and (slope, intercept) != (1.0, 0.0):
            array = array.astype(np.float64) * slope + intercept  # modality values (e.g. Philips scaling)
            integral &= slope.is_integer() and intercept.is_integer()
        elif not np.issubdtype(array.dtype, np.integer):
            integral = False
        planes.append(array)
    volume = _compact(np.stack(planes), integral, _stored_dtype(slices[0][1]))
    image = sitk.GetImageFromArray(volume)
    image.SetOrigin(tuple(float(v) for v in positions[0]))
    image.SetSpacing((float(pixel_spacing[1]), float(pixel_spacing[0]), spacing))
    image.SetDirection(tuple(float(v) for v in np.column_stack([row, col, normal]).ravel()))
    return image


# --- assigning series to sequences -------------------------------------------------------------

def sequence_for_description(description: str) -> str | None:
    """The sequence a SeriesDescription names, or None ('AX T1 POST GD' → 't1c')."""
    for name, pattern in DESCRIPTION_PATTERNS:
        if pattern.search(description or ""):
            return name
    return None


def _image_series(series: list[SeriesInfo]) -> list[SeriesInfo]:
    """Series that can be MR sequences: MR images (or no modality given) with at least two files.

    Other modalities (CT, RTSTRUCT, SEG ...) are only used when an override names them.
    """
    return [s for s in series if s.modality in {"MR", ""} and s.n_files >= 2]


def _resolve_override(name: str, value: str | Path, series: list[SeriesInfo], folder: Path) -> SeriesInfo | Path:
    text = str(value)
    for info in series:
        if info.uid == text:
            return info
    by_description = [s for s in series if s.description.lower() == text.lower()]
    if len(by_description) == 1:
        return by_description[0]
    if len(by_description) > 1:
        raise WeakSegError(f"--{name} '{text}' matches {len(by_description)} series; give a SeriesInstanceUID: "
                           + "; ".join(s.label() for s in by_description), folder)
    path = Path(text)
    if path.is_file():
        return path
    raise WeakSegError(f"--{name} '{text}' is neither a SeriesInstanceUID, a SeriesDescription nor a file; series here: "
                       + "; ".join(s.label() for s in series), folder)


def assign_sequences(series: list[SeriesInfo], overrides: Mapping[str, str | Path] | None = None,
                     folder: Path | None = None) -> tuple[dict[str, SeriesInfo | Path], list[str]]:
    """Map sequences to series by description (overrides win); returns the mapping and warnings."""
    folder = folder or Path(".")
    chosen: dict[str, SeriesInfo | Path] = {}
    warnings: list[str] = []
    for name, value in (overrides or {}).items():
        if name not in SEQUENCES:
            raise WeakSegError(f"unknown sequence '{name}' (expected one of {', '.join(SEQUENCES)})")
        chosen[name] = _resolve_override(name, value, series, folder)
    taken = {id(v) for v in chosen.values()}
    candidates: dict[str, list[SeriesInfo]] = {}
    for info in _image_series(series):
        if id(info) in taken:
            continue
        name = sequence_for_description(info.description)
        if name is not None and name not in chosen:
            candidates.setdefault(name, []).append(info)
    for name, found in candidates.items():
        best = max(found, key=lambda s: (s.n_files, -(s.series_number or 0)))
        if len(found) > 1:
            msg = (f"{name}: {len(found)} series match; using {best.label()}; others: "
                   + "; ".join(s.label() for s in found if s is not best) + f" (choose with --{name} UID)")
            warnings.append(msg)
        chosen[name] = best
    return chosen, warnings


def load_dicom_case(folder: str | Path, reference: str = "flair",
                    overrides: Mapping[str, str | Path] | None = None, labels: str | Path | None = None,
                    log_warnings: bool = True):
    """A :class:`~weakseg.io.case.Case` from the MR series of a DICOM folder.

    ``overrides`` maps a sequence to a SeriesInstanceUID, an exact SeriesDescription
    or an image file; ``labels`` is an optional label image. A folder whose only image series has an unrecognised description
    gives that series as the reference sequence, with a warning.
    """
    from weakseg.io.case import assemble_case
    from weakseg.io.image import read_image

    folder = Path(folder)
    series = list_series(folder)
    if not series:
        raise WeakSegError("no DICOM files found", folder)
    chosen, warnings = assign_sequences(series, overrides, folder)
    volumes = _image_series(series)
    if not chosen:
        if len(volumes) == 1:
            msg = (f"series {volumes[0].label()} has no recognised sequence name; "
                   f"treating it as {reference} (choose with --t1/--t1c/--t2/--flair UID)")
            warnings.append(msg)
            chosen[reference] = volumes[0]
        else:
            raise WeakSegError("no MR series recognised as flair, t1, t1c or t2; choose with --flair UID ...; series: "
                               + "; ".join(s.label() for s in series), folder)
    images: dict[str, sitk.Image] = {}
    sources: dict[str, Path] = {}
    frames = set()
    for name, what in chosen.items():
        if isinstance(what, Path):
            images[name], sources[name] = read_image(what), what
            continue
        images[name] = read_series(what.files)
        sources[name] = what.files[0].parent
        if what.frame_of_reference:
            frames.add(what.frame_of_reference)
    if len(frames) > 1:
        msg = "series have different FrameOfReferenceUIDs; they are not registered to each other by the scanner"
        warnings.append(msg)
    label_image = None
    if labels is not None:
        label_image, sources["seg"] = read_image(labels), Path(labels)
    case = assemble_case(folder.name, images, sources, label_image, reference, log_warnings=False)
    case.warnings[:0] = warnings
    if log_warnings:
        for msg in case.warnings:
            log.warning(msg)
    return case
