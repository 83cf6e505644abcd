"""Single-image I/O with the checks a clinical tool needs.

Every volume in the engine is a ``SimpleITK.Image``: it carries origin, spacing and
direction (LPS, as in DICOM and ITK), so geometry can never be separated from voxels.
``sitk.GetArrayViewFromImage`` gives the voxels in (z, y, x) order.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.io.atomic import write_with

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".seg.nrrd")


def has_image_suffix(path: str | Path) -> bool:
    name = str(path).lower()
    return any(name.endswith(s) for s in IMAGE_SUFFIXES)


def _check_gzip(path: Path) -> None:
    """ITK reports a truncated .gz as a generic read failure; name the real cause."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass
    except (EOFError, OSError, zlib.error) as exc:
        raise WeakSegError(f"truncated or corrupt gzip file ({exc})", path) from None


def read_image(path: str | Path, *, allow_2d: bool = False, check_finite: bool = True) -> sitk.Image:
    """Read a 3D image (NIfTI, NRRD, MHA) or raise a one-line ``WeakSegError`` naming the file."""
    path = Path(path)
    if not path.exists():
        raise WeakSegError("file not found", path)
    if path.is_dir():
        raise WeakSegError("is a folder, expected an image file", path)
    if path.name.lower().endswith(".gz"):
        _check_gzip(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()
        detail = next((line for line in reason if "Could not create IO object" in line), None)
        problem = "not a readable image (unknown format)" if detail else "could not be read as an image"
        raise WeakSegError(problem, path) from None
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    if image.GetDimension() == 2 or (image.GetDimension() == 3 and image.GetSize()[2] == 1 and not allow_2d):
        if not allow_2d:
            raise WeakSegError(f"is a 2D image ({'x'.join(map(str, image.GetSize()[:2]))}); a 3D volume is needed", path)
    if image.GetDimension() > 3:
        raise WeakSegError(f"is a {image.GetDimension()}D image {image.GetSize()}; a 3D volume is needed", path)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise WeakSegError(f"has {image.GetNumberOfComponentsPerPixel()} components per voxel; a scalar volume is needed", path)
    if check_finite and image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        bad = int(np.count_nonzero(~np.isfinite(sitk.GetArrayViewFromImage(image))))
        if bad:
            raise WeakSegError(f"contains {bad} NaN or infinite voxels", path)
    return image


def write_image(image: sitk.Image, path: str | Path, *, compress: bool = True) -> Path:
    """Write atomically; the format follows the extension (.nii.gz, .nrrd, .seg.nrrd, .mha)."""
    path = Path(path)
    write_with(path, lambda tmp: sitk.WriteImage(image, str(tmp), useCompression=compress))
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
