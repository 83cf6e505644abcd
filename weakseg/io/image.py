"""Single-image I/O with the checks a clinical tool needs.

Every volume in the engine is a ``SimpleITK.Image``: it carries origin, spacing and
direction (LPS, as in DICOM and ITK), so geometry can never be separated from voxels.
``sitk.GetArrayViewFromImage`` gives the voxels in (z, y, x) order.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import re
import struct
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.io.atomic import write_with

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".seg.nrrd")


def has_image_suffix(path: str | Path) -> bool:
    name = str(path).lower()
    return any(name.endswith(s) for s in IMAGE_SUFFIXES)


@contextlib.contextmanager
def capture_native_stderr(captured: list[str]) -> Iterator[None]:
    """Append to ``captured`` what ITK and its format libraries print on fd 2 meanwhile.

    They bypass Python and would add lines of noise around the CLI's one-line error;
    the captured text also holds the only precise reason for some failures (MetaIO).
    Without a usable fd 2 (an embedded interpreter) nothing is captured.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", "replace"))


def _require_gzip_magic(path: Path) -> None:
    with open(path, "rb") as raw:
        if raw.read(2) != b"\x1f\x8b":
            raise WeakSegError("not gzip-compressed although named .gz (a renamed or non-image file?)", path)


def _gzip_length(path: Path) -> int:
    """Decompress fully (C zlib, output discarded), checking end marker and CRC; return the length.

    ITK reads a truncated or corrupted .gz without any error (it returns a volume with
    zeros or garbage), so this is the only place such a file is caught.
    """
    length = 0
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                length += len(chunk)
    except EOFError:
        raise WeakSegError(f"truncated .gz file: the compressed data ends early ({path.stat().st_size} bytes on disk)", path) from None
    except (OSError, zlib.error) as exc:
        raise WeakSegError(f"corrupt .gz file ({exc})", path) from None
    return length


def _gzip_trailer_length(path: Path) -> int:
    """The uncompressed length (mod 2**32) the gzip trailer records; no decompression."""
    with open(path, "rb") as raw:
        raw.seek(-4, os.SEEK_END)
        return struct.unpack("<I", raw.read(4))[0]


def _is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


@dataclass(frozen=True)
class _NiftiLayout:
    offset: int  # first voxel byte
    voxels: int
    float_dtype: np.dtype | None  # set for float32/float64 data

    @property
    def expected_bytes(self) -> int:
        return self.offset + self.voxels * (self.float_dtype.itemsize if self.float_dtype is not None else 0)


def _nifti_layout(path: Path) -> tuple[_NiftiLayout, int]:
    """Where a NIfTI-1/2 file's voxels are, and the bytes it must hold, from its header."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(540)
    except EOFError:
        raise WeakSegError("truncated .gz file: the compressed data ends inside the header", path) from None
    except (OSError, zlib.error) as exc:
        raise WeakSegError(f"corrupt .gz file ({exc})", path) from None
    for endian in ("<", ">"):
        if len(head) >= 4 and struct.unpack(endian + "i", head[:4])[0] in (348, 540):
            break
    else:
        raise WeakSegError("not a NIfTI image: invalid header (garbage or another format under a NIfTI name)", path)
    version = 1 if struct.unpack(endian + "i", head[:4])[0] == 348 else 2
    if len(head) < (348 if version == 1 else 540):
        raise WeakSegError(f"truncated NIfTI header ({len(head)} bytes)", path)
    if version == 1:
        dims = struct.unpack(endian + "8h", head[40:56])
        datatype, bitpix = struct.unpack(endian + "2h", head[70:74])
        offset = int(struct.unpack(endian + "f", head[108:112])[0])
    else:
        datatype, bitpix = struct.unpack(endian + "2h", head[12:16])
        dims = struct.unpack(endian + "8q", head[16:80])
        offset = struct.unpack(endian + "q", head[168:176])[0]
    ndim = dims[0]
    if not 1 <= ndim <= 7 or any(d < 1 for d in dims[1 : ndim + 1]) or bitpix <= 0:
        raise WeakSegError(f"invalid NIfTI header (dimensions {list(dims[1:ndim + 1])}, {bitpix} bits per voxel)", path)
    if version == 1:
        pixdim = struct.unpack(endian + "8f", head[76:108])
    else:
        pixdim = struct.unpack(endian + "8d", head[104:168])
    spatial = pixdim[1 : min(ndim, 3) + 1]
    if any(not np.isfinite(p) or p == 0 for p in spatial):
        raise WeakSegError(f"voxel spacing {[float(p) for p in spatial]} in the NIfTI header is zero or not a number "
                           "(ITK would silently use 1 mm, and every volume would be wrong)", path)
    voxels = int(np.prod(dims[1 : ndim + 1], dtype=np.int64))
    offset = max(offset, 352 if version == 1 else 544)
    float_dtype = {16: np.dtype(endian + "f4"), 64: np.dtype(endian + "f8")}.get(datatype)
    return _NiftiLayout(offset, voxels, float_dtype), offset + voxels * bitpix // 8


def _nifti_nonfinite(path: Path, layout: _NiftiLayout) -> int:
    """Count NaN/inf voxels in the file itself: ITK's NIfTI reader silently turns NaN into 0."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        handle.seek(layout.offset)
        data = np.frombuffer(handle.read(layout.voxels * layout.float_dtype.itemsize), dtype=layout.float_dtype)
    return int(data.size - np.count_nonzero(np.isfinite(data)))


def _check_complete(path: Path, check_finite: bool = True, verify: bool = True) -> None:
    """Refuse files that are truncated, corrupt or hold NaN, which ITK would read without complaint."""
    size = path.stat().st_size
    if size == 0:
        raise WeakSegError("is empty (0 bytes)", path)
    gz = path.name.lower().endswith(".gz")
    length: int | None = size
    if gz:
        _require_gzip_magic(path)
        length = _gzip_length(path) if verify else None
    if _is_nifti(path):
        layout, expected = _nifti_layout(path)
        if length is None and _gzip_trailer_length(path) != expected % 2**32:
            length = _gzip_length(path)  # the trailer disagrees: find out exactly what is wrong
        if length is not None and length < expected:
            raise WeakSegError(f"truncated NIfTI file: {length} of the {expected} bytes its header announces", path)
        if check_finite and layout.float_dtype is not None:
            bad = _nifti_nonfinite(path, layout)
            if bad:
                raise WeakSegError(f"contains {bad} NaN or infinite voxels", path)


def _read_failure(path: Path, exc: RuntimeError, native: str) -> WeakSegError:
    """A precise one-line reason for an ITK read failure."""
    text = f"{exc}\n{native}"
    name = path.name.lower()
    if name.endswith((".nrrd", ".nhdr")):
        with open(path, "rb") as handle:
            if not handle.read(8).startswith(b"NRRD000"):
                return WeakSegError("not an NRRD image: no NRRD magic line (garbage or another format?)", path)
        nrrd = [line.split(": ", 1)[-1].strip() for line in text.splitlines() if line.startswith("[nrrd]")]
        return WeakSegError(f"corrupt or truncated NRRD: {nrrd[-1] if nrrd else 'could not be read'}", path)
    match = re.search(r"ideal = (\d+) : actual = (\d+)", text)
    if match:
        return WeakSegError(f"truncated image data: {match.group(2)} of {match.group(1)} bytes", path)
    if "Unable to determine ImageIO reader" in text or "Could not create IO object" in text:
        return WeakSegError("not a readable image (unknown format, or a corrupt header)", path)
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.strip().startswith("Exception thrown")]
    return WeakSegError(f"could not be read as an image ({lines[-1] if lines else 'unknown reason'})", path)


def _image_file(path: str | Path) -> Path:
    """``path`` as a Path, or a one-line error when it is missing or a folder."""
    path = Path(path)
    if not path.exists():
        raise WeakSegError("file not found", path)
    if path.is_dir():
        raise WeakSegError("is a folder, expected an image file", path)
    return path


def read_image(path: str | Path, *, allow_2d: bool = False, check_finite: bool = True, verify: bool = True) -> sitk.Image:
    """Read a 3D image (NIfTI, NRRD, MHA) or raise a one-line ``WeakSegError`` naming the file.

    ``verify`` checks a .gz file's CRC, which costs one extra decompression (about as
    long as the read); with ``verify=False`` truncation is still caught from the gzip
    trailer, but corruption inside the stream is not. Use it only for files already
    verified once (a training loop re-reading its cases).
    """
    path = _image_file(path)
    _check_complete(path, check_finite, verify)
    native: list[str] = []
    try:
        with capture_native_stderr(native):
            image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise _read_failure(path, exc, "".join(native)) from None
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    if not allow_2d and (image.GetDimension() == 2 or (image.GetDimension() == 3 and image.GetSize()[2] == 1)):
        raise WeakSegError(f"is a 2D image ({'x'.join(map(str, image.GetSize()[:2]))}); a 3D volume is needed", path)
    if image.GetDimension() > 3:
        raise WeakSegError(f"is a {image.GetDimension()}D image {image.GetSize()}; a 3D volume is needed", path)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise WeakSegError(f"has {image.GetNumberOfComponentsPerPixel()} components per voxel; a scalar volume is needed", path)
    spacing = image.GetSpacing()
    if any(not np.isfinite(s) or s <= 0 for s in spacing):
        raise WeakSegError(f"voxel spacing {[round(s, 6) for s in spacing]} is zero, negative or not a number", path)
    if check_finite and image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        bad = int(np.count_nonzero(~np.isfinite(sitk.GetArrayViewFromImage(image))))
        if bad:
            raise WeakSegError(f"contains {bad} NaN or infinite voxels", path)
    return image


def read_images(paths: list[str | Path], *, check_finite: bool = True) -> list[sitk.Image]:
    """``read_image`` of several files, each .gz file's CRC checked in worker threads while ITK reads the others.

    The check is a second decompression (zlib releases the GIL), so for a 4-sequence case it overlaps
    with the reads instead of doubling them; each file is still checked before ITK touches it, so a
    bad file gets the same one-line error as from ``read_image``, the first bad file in order first.
    """
    from concurrent.futures import ThreadPoolExecutor

    paths = [_image_file(p) for p in paths]  # before any thread starts, in order
    with ThreadPoolExecutor(max_workers=2) as pool:
        checks = [pool.submit(_check_complete, path, check_finite, True) for path in paths]
        images = []
        for path, check in zip(paths, checks):
            check.result()
            images.append(read_image(path, check_finite=check_finite, verify=False))
    return images


def verify_written(path: str | Path) -> None:
    """Check that a file just written is complete: ITK ignores a full disk and leaves a short file, no error.

    Images are re-read (gzip CRC and NIfTI length included); other files must be non-empty.
    Raises ``OSError(ENOSPC)`` naming the file, as the failed write should have.
    """
    path = Path(path)
    name = path.name.lower()
    try:
        if path.stat().st_size == 0:
            raise WeakSegError("is empty (0 bytes)", path)
        if name.endswith((".nii", ".nii.gz", ".nrrd", ".mha", ".png")):
            _check_complete(path, check_finite=False, verify=True)
            with capture_native_stderr([]):
                sitk.ReadImage(str(path))
    except (WeakSegError, RuntimeError) as exc:
        raise OSError(errno.ENOSPC, f"written file is incomplete ({exc}); is the disk full?", str(path)) from None


def _nearly_full(folder: Path, margin: int = 1 << 20) -> bool:
    try:
        stat = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return stat.f_bavail * stat.f_frsize < margin


def write_itk(image: sitk.Image, path: str | Path, *, compress: bool = True) -> None:
    """``sitk.WriteImage`` whose failures are ``OSError`` naming the file (ENOSPC when the disk is full),
    so they reach the user as an I/O problem (exit 2), not as an internal error."""
    path = Path(path)
    native: list[str] = []
    try:
        with capture_native_stderr(native):  # ITK warns on stderr about metadata a format cannot hold
            sitk.WriteImage(image, str(path), useCompression=compress)
    except RuntimeError as exc:
        if _nearly_full(path.parent):
            raise OSError(errno.ENOSPC, "No space left on device", str(path)) from None
        if "Unable to determine ImageIO writer" in str(exc) or image.GetNumberOfPixels() == 0:
            raise  # the caller's mistake (no such format, an empty image): a bug, not the user's disk
        reason = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise OSError(errno.EIO, f"could not write the image ({reason[-1][-160:] if reason else 'ITK error'})",
                      str(path)) from None


def write_image(image: sitk.Image, path: str | Path, *, compress: bool = True) -> Path:
    """Write atomically; the format follows the extension (.nii.gz, .nrrd, .seg.nrrd, .mha)."""
    path = Path(path)

    write_with(path, lambda tmp: write_itk(image, tmp, compress=compress), verify=verify_written)
    return path


def same_grid(a: sitk.Image, b: sitk.Image, *, tol: float = 1e-4) -> bool:
    """True when both images share size, spacing, origin and direction (within ``tol``)."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tol)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tol * 100)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=tol)
    )


def copy_geometry(array: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """Wrap a (z, y, x) array in an image on ``reference``'s grid."""
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(reference)
    return image


def physical_bounds(image: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned bounding box (LPS, mm) of the voxel centres' extent."""
    size = np.array(image.GetSize()) - 1
    corners = [
        image.TransformContinuousIndexToPhysicalPoint([float(c) for c in (i * size[0], j * size[1], k * size[2])])
        for i in (0, 1) for j in (0, 1) for k in (0, 1)
    ]
    pts = np.array(corners)
    return pts.min(axis=0), pts.max(axis=0)


def overlap_fraction(image: sitk.Image, reference: sitk.Image) -> float:
    """Fraction of ``reference``'s bounding box covered by ``image``'s."""
    lo_a, hi_a = physical_bounds(image)
    lo_r, hi_r = physical_bounds(reference)
    inter = np.clip(np.minimum(hi_a, hi_r) - np.maximum(lo_a, lo_r), 0, None)
    ref_extent = np.maximum(hi_r - lo_r, 1e-6)
    return float(np.prod(inter / ref_extent))


def resample_to(image: sitk.Image, reference: sitk.Image, *, nearest: bool = False, default: float = 0.0) -> sitk.Image:
    """Resample onto ``reference``'s grid (linear for intensities, nearest for labels)."""
    interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    return sitk.Resample(image, reference, sitk.Transform(), interpolator, default, image.GetPixelID())


def orientation_code(image: sitk.Image) -> str:
    """Three-letter orientation in ITK's convention (identity direction is 'LPS')."""
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(image.GetDirection())
