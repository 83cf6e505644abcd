"""DICOM MR series: find them in a folder, build 3D volumes, assign them to sequences.

Geometry is computed here from each slice's ImagePositionPatient and
ImageOrientationPatient, not left to a reader's heuristics: the slice axis is the
normal of the image plane, slices are sorted by their position along it, and the
slice spacing comes from those positions (SliceThickness is the excitation thickness,
which differs from the spacing for gapped or overlapping acquisitions). Oblique
series keep their oblique direction. Classic single-frame slices and enhanced
multi-frame files (geometry from their functional groups) give the same volume. Anything
that cannot be one regular volume is refused with a one-line ``WeakSegError`` rather than
silently mis-stacked.

Finding files (preamble-less, DICOMDIR, zip) is ``weakseg.io.dicom_files``; which series is
which sequence, ``weakseg.io.dicom_sequences``; whose images they are,
``weakseg.io.dicom_identity``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pydicom
import SimpleITK as sitk

from weakseg import SEQUENCES
from weakseg.errors import WeakSegError
from weakseg.io.dicom_files import DicomInput, is_dicom_input, open_dicom_input, read_header, unique_headers
from weakseg.io.dicom_identity import DicomIdentity, check_one_study
from weakseg.io.dicom_sequences import STRONG, Candidate, SequenceGuess, choose_series, classify, classify_study
from weakseg.io.image import capture_native_stderr

log = logging.getLogger("weakseg")

ORIENTATION_TOL = 1e-3
"""Largest difference between direction cosines of two slices of one volume."""
GAP_TOL = 0.05
"""Largest deviation of a slice gap from the median gap, as a fraction of it."""

@dataclass
class SeriesInfo:
    """One series found in a folder (headers of its first file; pixels are read by :func:`read_series`)."""

    uid: str
    description: str
    modality: str
    files: list[Path] = field(default_factory=list)
    series_number: int | None = None
    frame_of_reference: str = ""
    patient_id: str = ""
    study_uid: str = ""
    protocol_name: str = ""
    image_type: tuple[str, ...] = ()
    contrast_agent: str = ""
    acquired: float | None = None
    repetition_time: float | None = None
    echo_time: float | None = None
    inversion_time: float | None = None
    frames: int = 0
    voxel_mm3: float = 0.0
    duplicates: int = 0

    @property
    def n_files(self) -> int:
        return len(self.files)

    @property
    def identity(self) -> DicomIdentity:
        return DicomIdentity(self.patient_id, self.study_uid, self.frame_of_reference)

    def label(self) -> str:
        return f"'{self.description or '(no description)'}' ({self.modality}, {self.n_files} files, UID {self.uid})"

    @classmethod
    def from_header(cls, uid: str, ds: pydicom.Dataset) -> "SeriesInfo":
        number = ds.get("SeriesNumber")
        return cls(
            uid=uid,
            description=str(ds.get("SeriesDescription", "") or "").strip(),
            modality=str(ds.get("Modality", "") or ""),
            series_number=_int(number),
            frame_of_reference=str(ds.get("FrameOfReferenceUID", "") or ""),
            patient_id=str(ds.get("PatientID", "") or "").strip(),
            study_uid=str(ds.get("StudyInstanceUID", "") or ""),
            protocol_name=str(ds.get("ProtocolName", "") or "").strip(),
            image_type=tuple(str(v) for v in (ds.get("ImageType") or ())),
            contrast_agent=str(ds.get("ContrastBolusAgent", "") or "").strip(),
            acquired=_seconds(ds.get("AcquisitionTime") or ds.get("SeriesTime") or ds.get("ContentTime")),
            repetition_time=_mr_parameter(ds, "RepetitionTime"),
            echo_time=_mr_parameter(ds, "EchoTime"),
            inversion_time=_mr_parameter(ds, "InversionTime"),
            voxel_mm3=_voxel_mm3(ds),
        )


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _seconds(value) -> float | None:
    """DICOM TM 'HHMMSS.frac' as seconds since midnight."""
    text = str(value or "").strip().replace(":", "")
    if len(text) < 4 or not text[:4].isdigit():
        return None
    hours, minutes = int(text[:2]), int(text[2:4])
    rest = _float(text[4:]) or 0.0
    return hours * 3600 + minutes * 60 + rest


def _mr_parameter(ds: pydicom.Dataset, keyword: str) -> float | None:
    """A timing parameter from the classic header or an enhanced file's functional groups."""
    value = _float(ds.get(keyword))
    if value is not None:
        return value
    nested = {"RepetitionTime": ("MRTimingAndRelatedParametersSequence", "RepetitionTime"),
              "EchoTime": ("MREchoSequence", "EffectiveEchoTime"),
              "InversionTime": ("MRModifierSequence", "InversionTimes")}[keyword]
    for group in (ds.get("SharedFunctionalGroupsSequence") or [])[:1]:
        item = (group.get(nested[0]) or [None])[0]
        if item is not None and nested[1] in item:
            raw = item.get(nested[1])
            return _float(raw[0] if isinstance(raw, (list, pydicom.multival.MultiValue)) else raw)
    return None


def _voxel_mm3(ds: pydicom.Dataset) -> float:
    spacing = ds.get("PixelSpacing") or [0, 0]
    try:
        return float(spacing[0]) * float(spacing[1]) * float(ds.get("SpacingBetweenSlices") or ds.get("SliceThickness") or 0)
    except (TypeError, ValueError, IndexError):
        return 0.0


# --- finding series ---------------------------------------------------------------------------

def is_dicom_folder(path: str | Path) -> bool:
    """True when the folder (or a subfolder) holds at least one DICOM file (preamble or not)."""
    path = Path(path)
    return path.is_dir() and is_dicom_input(path)


def list_series(source: str | Path | DicomInput) -> list[SeriesInfo]:
    """Group the DICOM files of a folder (or DicomInput) by SeriesInstanceUID, sorted by series number.

    Copies of one instance (same SOPInstanceUID) are counted once."""
    where = source if isinstance(source, DicomInput) else DicomInput(Path(source))
    if where.files is None and not where.folder.is_dir():
        raise WeakSegError("DICOM folder not found", where.folder)
    series: dict[str, SeriesInfo] = {}
    for path, ds, is_copy in unique_headers(where):
        uid = str(ds.get("SeriesInstanceUID", "")) or f"(no SeriesInstanceUID) {path.parent}"
        info = series.get(uid)
        if info is None:
            info = series[uid] = SeriesInfo.from_header(uid, ds)
        if is_copy:
            info.duplicates += 1
            continue
        info.files.append(path)
        info.frames += max(_int(ds.get("NumberOfFrames")) or 1, 1)
    for info in series.values():
        if info.duplicates:
            log.warning("%s: %d duplicate copies of instances of series %s ignored", where.shown_as or where.folder,
                        info.duplicates, info.label())
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


@dataclass
class _Plane:
    """One image plane: a classic single-frame file, or one frame of an enhanced multi-frame file."""

    where: Path
    ds: pydicom.Dataset          # the file's dataset (shared by the frames of an enhanced file)
    position: np.ndarray
    orientation: np.ndarray
    pixel_spacing: np.ndarray
    slope: float = 1.0
    intercept: float = 0.0
    frame: int | None = None     # index into an enhanced file's pixel data


def _read_file(path: Path) -> pydicom.Dataset:
    ds = read_header(path, pixels=True)
    if ds is None:
        raise WeakSegError("not a readable DICOM file", path)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples != 1:
        raise WeakSegError(f"is a colour image ({samples} samples per pixel, {ds.get('PhotometricInterpretation', '?')}): "
                           "a screenshot or secondary capture, not an MR sequence", path)
    return ds


def _classic_plane(path: Path, ds: pydicom.Dataset) -> _Plane:
    return _Plane(path, ds, _floats(ds, "ImagePositionPatient", 3, path), _floats(ds, "ImageOrientationPatient", 6, path),
                  _floats(ds, "PixelSpacing", 2, path), float(ds.get("RescaleSlope", 1) or 1),
                  float(ds.get("RescaleIntercept", 0) or 0))


def _enhanced_planes(path: Path, ds: pydicom.Dataset) -> list[_Plane]:
    """The frames of an enhanced (or legacy-converted enhanced) MR file, geometry from its functional groups."""
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    shared = (ds.get("SharedFunctionalGroupsSequence") or [pydicom.Dataset()])[0]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    if len(per_frame) != frames:
        raise WeakSegError(f"enhanced image has {len(per_frame)} per-frame groups for {frames} frames", path)

    def attribute(group: pydicom.Dataset, sequence: str, keyword: str):
        for source in (group, shared):
            items = source.get(sequence)
            if items and keyword in items[0]:
                return items[0].get(keyword)
        return None

    planes = []
    for i, group in enumerate(per_frame):
        values = {}
        for key, (sequence, keyword, count) in {"position": ("PlanePositionSequence", "ImagePositionPatient", 3),
                                                 "orientation": ("PlaneOrientationSequence", "ImageOrientationPatient", 6),
                                                 "spacing": ("PixelMeasuresSequence", "PixelSpacing", 2)}.items():
            raw = attribute(group, sequence, keyword)
            try:
                values[key] = np.array([float(v) for v in raw], dtype=float)
            except (TypeError, ValueError):
                values[key] = np.array([])
            if values[key].size != count:
                raise WeakSegError(f"frame {i + 1} lacks a valid {keyword}; cannot place it in space", path)
        slope = attribute(group, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = attribute(group, "PixelValueTransformationSequence", "RescaleIntercept")
        planes.append(_Plane(path, ds, values["position"], values["orientation"], values["spacing"],
                             float(slope if slope not in (None, "") else 1), float(intercept if intercept not in (None, "") else 0),
                             frame=i))
    return planes


def _planes(files: list[Path]) -> list[_Plane]:
    planes: list[_Plane] = []
    seen: set[str] = set()
    for path in files:
        ds = _read_file(path)
        sop = str(ds.get("SOPInstanceUID", "") or "")
        if sop and sop in seen:
            continue  # a copy of an instance already read
        seen.add(sop)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if "PerFrameFunctionalGroupsSequence" in ds:
            planes.extend(_enhanced_planes(path, ds))
        elif frames > 1:
            raise WeakSegError(f"multi-frame image ({frames} frames) without per-frame geometry; not supported", path)
        else:
            planes.append(_classic_plane(path, ds))
    return planes


def _frame_pixels(plane: _Plane, cache: dict) -> tuple[np.ndarray, bool]:
    if plane.frame is None:
        return _pixels(plane.ds, plane.where)
    key = id(plane.ds)
    if key not in cache:
        try:
            cache[key] = np.asarray(plane.ds.pixel_array)
        except Exception as exc:  # noqa: BLE001 - codec errors come in many types
            raise WeakSegError(f"cannot decode the enhanced image's pixel data ({exc})", plane.where) from None
    array = cache[key]
    return (array[plane.frame] if array.ndim == 3 else array), False


def read_series(files: Iterable[str | Path]) -> sitk.Image:
    """Build one 3D image from a series' files (classic slices or enhanced multi-frame), geometry from the headers."""
    files = [Path(f) for f in files]
    if not files:
        raise WeakSegError("empty DICOM series")
    where = files[0].parent
    planes = _planes(files)
    if len(planes) < 2:
        raise WeakSegError("series has a single slice; a 3D volume needs at least two", files[0])

    first = planes[0]
    iop = first.orientation
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-3) or abs(float(row @ col)) > 1e-3:
        raise WeakSegError("ImageOrientationPatient is not two orthogonal unit vectors", first.where)
    shape = (int(first.ds.Rows), int(first.ds.Columns))
    pixel_spacing = first.pixel_spacing  # (between rows, between columns)
    for plane in planes:
        if np.abs(plane.orientation - iop).max() > ORIENTATION_TOL:
            raise WeakSegError(f"slice orientation {np.round(plane.orientation, 4).tolist()} differs from the series' "
                               f"{np.round(iop, 4).tolist()}; not one volume (localizer or mixed series?)", plane.where)
        if (int(plane.ds.Rows), int(plane.ds.Columns)) != shape:
            raise WeakSegError(f"slice size {plane.ds.Rows}x{plane.ds.Columns} differs from the series' "
                               f"{shape[0]}x{shape[1]}", plane.where)
        if np.abs(plane.pixel_spacing - pixel_spacing).max() > 1e-4:
            raise WeakSegError("pixel spacing differs from the rest of the series", plane.where)
    positions = np.array([p.position for p in planes])
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    along, positions = along[order], positions[order]
    planes = [planes[i] for i in order]

    gaps = np.diff(along)
    if gaps.min() < 1e-3:
        i = int(np.argmin(gaps))
        dup = planes[i + 1]
        echoes = {str(p.ds.get("EchoNumbers", "")) for p in (planes[i], dup)}
        what = ("two echoes" if len(echoes) > 1 else "two time points, stacks or acquisitions"
                if dup.frame is not None or planes[i].ds is not dup.ds else "two frames")
        raise WeakSegError(f"two slices at the same position {np.round(positions[i], 3).tolist()} ({what} in one "
                           "series); choose one volume, e.g. export the echo or time point separately", dup.where)
    spacing = float(np.median(gaps))
    worst = int(np.argmax(np.abs(gaps - spacing)))
    if abs(gaps[worst] - spacing) > GAP_TOL * spacing:
        raise WeakSegError(f"slice gaps are not uniform ({gaps[worst]:.3f} mm vs median {spacing:.3f} mm); "
                           "missing slices or a non-uniform series", planes[worst + 1].where)
    offsets = positions - positions[0]
    in_plane = np.abs(offsets @ np.stack([row, col]).T).max()
    if in_plane > GAP_TOL * max(float(pixel_spacing.min()), 1e-3) + 1e-3:
        raise WeakSegError(f"slices are shifted in-plane by up to {in_plane:.2f} mm (gantry tilt?); "
                           "cannot stack them as one regular volume", where)

    stack, integral, cache = [], True, {}
    for plane in planes:
        array, rescaled = _frame_pixels(plane, cache)
        if array.shape != shape:
            raise WeakSegError(f"pixel data of shape {array.shape} is not a single {shape[0]}x{shape[1]} frame", plane.where)
        if not rescaled and (plane.slope, plane.intercept) != (1.0, 0.0):
            array = array.astype(np.float64) * plane.slope + plane.intercept  # modality values (e.g. Philips scaling)
            integral &= plane.slope.is_integer() and plane.intercept.is_integer()
        elif not np.issubdtype(array.dtype, np.integer):
            integral = False
        stack.append(array)
    volume = _compact(np.stack(stack), integral, _stored_dtype(planes[0].ds))
    image = sitk.GetImageFromArray(volume)
    image.SetOrigin(tuple(float(v) for v in positions[0]))
    image.SetSpacing((float(pixel_spacing[1]), float(pixel_spacing[0]), spacing))
    image.SetDirection(tuple(float(v) for v in np.column_stack([row, col, normal]).ravel()))
    return image


# --- assigning series to sequences -------------------------------------------------------------

def sequence_for_description(description: str) -> str | None:
    """The sequence a SeriesDescription alone names, or None ('AX T1 POST GD' → 't1c', 'AX T1 PRE GAD' → 't1')."""
    return classify(SeriesInfo(uid="", description=description or "", modality="MR")).sequence


def _image_series(series: list[SeriesInfo]) -> list[SeriesInfo]:
    """Series that can be MR sequences: MR images (or no modality given) with at least two planes.

    Other modalities (CT, RTSTRUCT, SEG ...) are only used when an override names them.
    """
    return [s for s in series if s.modality in {"MR", ""} and s.frames >= 2]


def series_in_folder(folder: Path | DicomInput, what: str) -> SeriesInfo:
    """The one image series of a series folder, DICOMDIR or zip (as given with ``--flair DIR``)."""
    where = folder.shown_as or folder.folder if isinstance(folder, DicomInput) else folder
    volumes = [s for s in list_series(folder) if s.frames >= 2]
    if len(volumes) != 1:
        raise WeakSegError(f"{what}: a series folder must hold exactly one image series, found {len(volumes)}"
                           + (": " + "; ".join(s.label() for s in volumes) if volumes else ""), where)
    return volumes[0]


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
    if path.is_dir():
        return series_in_folder(path, f"--{name}")
    if path.is_file():
        return path
    raise WeakSegError(f"--{name} '{text}' is neither a SeriesInstanceUID, a SeriesDescription, a series folder nor a "
                       "file; series here: " + "; ".join(s.label() for s in series), folder)


def _rank(info: SeriesInfo, guess: SequenceGuess) -> tuple:
    """Higher wins: confidence, then finer voxels (a 3D acquisition over thick slices), then more planes."""
    return (round(guess.confidence, 2), -round(info.voxel_mm3, 2), info.frames)


def assign_sequences(series: list[SeriesInfo], overrides: Mapping[str, str | Path] | None = None,
                     folder: Path | None = None) -> tuple[dict[str, SeriesInfo | Path], list[str]]:
    """Map sequences to series from their headers (overrides win); returns the mapping and warnings.

    Two equally good candidates for one sequence raise, listing both, rather than guessing.
    """
    folder = folder or Path(".")
    chosen: dict[str, SeriesInfo | Path] = {}
    for name, value in (overrides or {}).items():
        if name not in SEQUENCES:
            raise WeakSegError(f"unknown sequence '{name}' (expected one of {', '.join(SEQUENCES)})")
        chosen[name] = _resolve_override(name, value, series, folder)
    taken = {id(v) for v in chosen.values()}
    volumes = [s for s in _image_series(series) if id(s) not in taken]
    guesses = classify_study(volumes)
    candidates: dict[str, list[Candidate]] = {}
    for info in volumes:
        guess = guesses[info.uid]
        if guess.sequence is not None and guess.sequence not in chosen:
            candidates.setdefault(guess.sequence, []).append(Candidate(info.uid, info.label(), guess, _rank(info, guess)))
    try:
        picked, warnings = choose_series(candidates)
    except WeakSegError as exc:
        raise WeakSegError(exc.message, folder) from None
    by_uid = {s.uid: s for s in volumes}
    for name, uid in picked.items():
        chosen[name] = by_uid[uid]
        if guesses[uid].confidence < STRONG:
            warnings.append(f"{name}: {by_uid[uid].label()} chosen from {guesses[uid].reason()} "
                            f"(confidence {guesses[uid].confidence:.1f}; choose with --{name} SERIES_UID)")
    return chosen, warnings


def describe_assignment(series: list[SeriesInfo]) -> dict[str, SequenceGuess]:
    """The guess for every image series (for ``weakseg info --series``)."""
    return classify_study(_image_series(series))


def load_dicom_case(folder: str | Path, reference: str = "flair",
                    overrides: Mapping[str, str | Path] | None = None, labels: str | Path | None = None,
                    log_warnings: bool = True, allow_mixed_studies: bool = False, case_id: str | None = None):
    """A :class:`~weakseg.io.case.Case` from the MR series of a DICOM folder, DICOMDIR or zip archive.

    ``overrides`` maps a sequence to a SeriesInstanceUID, an exact SeriesDescription, a series
    folder or an image file; ``labels`` is an optional label image. The sequences must share
    patient and study (see ``weakseg.io.dicom_identity``). A folder whose only image series has
    an unrecognised description gives that series as the reference sequence, with a warning.
    The case id is a pseudonym derived from the StudyInstanceUID unless ``case_id`` is given:
    clinic folder names are often patient names.
    """
    with open_dicom_input(folder) as source:
        return _load_dicom_case(source, reference, overrides, labels, log_warnings, allow_mixed_studies, case_id)


def _load_dicom_case(source: DicomInput, reference, overrides, labels, log_warnings, allow_mixed_studies, case_id):
    from weakseg.io.case import assemble_case, finish_case
    from weakseg.io.image import read_image

    shown = source.shown_as or source.folder
    series = list_series(source)
    if not series:
        raise WeakSegError("no DICOM files found", shown)
    chosen, warnings = assign_sequences(series, overrides, shown)
    volumes = _image_series(series)
    if not chosen:
        if len(volumes) == 1:
            msg = (f"series {volumes[0].label()} has no recognised sequence name; "
                   f"treating it as {reference} (choose with --t1/--t1c/--t2/--flair UID)")
            warnings.append(msg)
            chosen[reference] = volumes[0]
        else:
            raise WeakSegError("no MR series recognised as flair, t1, t1c or t2; choose with --flair UID ...; series: "
                               + "; ".join(s.label() for s in series), shown)
    dicom_series = {name: what for name, what in chosen.items() if isinstance(what, SeriesInfo)}
    warnings += check_one_study({name: info.identity for name, info in dicom_series.items()}, allow_mixed_studies)
    images: dict[str, sitk.Image] = {}
    sources: dict[str, Path] = {}
    for name, what in chosen.items():
        if isinstance(what, Path):
            images[name], sources[name] = read_image(what), what
            continue
        images[name] = read_series(what.files)
        sources[name] = source.shown_as or what.files[0].parent
    label_image = None
    if labels is not None:
        label_image, sources["seg"] = read_image(labels), Path(labels)
    study = next(iter(dicom_series.values())).study_uid if dicom_series else ""
    case = assemble_case(case_id or pseudonym(study, shown), images, sources, label_image, reference, log_warnings=False)
    return finish_case(case, dicom_series, warnings, log_warnings)


def pseudonym(study_uid: str, fallback: Path) -> str:
    """'study-<10 hex>': stable for one study, and says nothing about the patient."""
    import hashlib

    basis = study_uid or str(Path(fallback).resolve())
    return "study-" + hashlib.sha256(basis.encode()).hexdigest()[:10]


def attach_dicom(case, dicom_series: Mapping[str, SeriesInfo]) -> None:
    """Record the series UIDs and the reference sequence's identity on a case."""
    case.series_uids = {name: info.uid for name, info in dicom_series.items()}
    ref = dicom_series.get(case.reference)
    case.identity = ref.identity if ref is not None else None


def read_series_input(path: str | Path, what: str) -> tuple[sitk.Image, SeriesInfo]:
    """The image and header summary of one series given as a folder, DICOMDIR or zip (``--flair DIR``)."""
    with open_dicom_input(path) as source:
        info = series_in_folder(source, what)
        return read_series(info.files), info
