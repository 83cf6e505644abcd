"""The working grid: 1 mm isotropic, axis-aligned LPS, covering the reference sequence.

Models trained on BraTS see 1 mm LPS volumes; a thick-slice oblique clinical series is put on
such a grid for the model and its labels are brought back onto the series' own grid (where
the clinician contours and the RTSTRUCT points) by resampling per-label probabilities, so a
6 mm slice gets the label that covers most of it rather than whatever lies at its centre.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def working_grid(reference: sitk.Image, spacing_mm: float = 1.0) -> sitk.Image:
    """An empty uint8 image on a ``spacing_mm`` LPS grid covering ``reference``'s physical extent."""
    size = np.array(reference.GetSize(), dtype=float)
    corners = np.array([reference.TransformContinuousIndexToPhysicalPoint(tuple(c))
                        for c in np.array(np.meshgrid(*[[-0.5, n - 0.5] for n in size], indexing="ij")).reshape(3, -1).T])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    n = np.maximum(1, np.ceil((hi - lo) / spacing_mm - 1e-6)).astype(int)
    grid = sitk.Image([int(v) for v in n], sitk.sitkUInt8)
    grid.SetSpacing([spacing_mm] * 3)
    grid.SetOrigin(tuple(lo + spacing_mm / 2))
    grid.SetDirection(tuple(np.eye(3).ravel()))
    return grid


INTERPOLATIONS = ("linear", "bspline", "cubic-slices")
"""linear; bspline: cubic B-spline in 3D (64 taps per voxel); cubic-slices: a cubic spline across
the thick slices only (4 taps), then linear in 3D: most of the B-spline's gain where the
information is missing, at close to linear's cost."""


def resample_onto(image: sitk.Image, grid: sitk.Image, transform: sitk.Transform | None = None,
                  nearest: bool = False, interpolation: str = "linear") -> sitk.Image:
    """``image`` on ``grid`` (``interpolation`` for intensities, nearest for labels); outside: 0.

    Linear by default: 7x faster than the cubic B-spline here (0.2 s against 1.6 s per
    BraTS-size sequence); which one the pipeline uses is decided on held-out degradations
    (docs/results/clinical-input.md).

    Intensities keep the image's support: where the input is exactly zero (a skull-stripped
    background) the output is exactly zero too, not a thin halo of interpolated small values that
    would make the model's non-zero brain mask grow (B-spline ringing made it the whole volume).
    """
    transform = transform or sitk.Transform()
    if nearest:
        return sitk.Resample(image, grid, transform, sitk.sitkNearestNeighbor, 0.0, image.GetPixelID())
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}")
    if interpolation == "bspline":
        out = sitk.Resample(image, grid, transform, sitk.sitkBSpline, 0.0, sitk.sitkFloat32)
    else:
        source = cubic_across_slices(image, min(grid.GetSpacing())) if interpolation == "cubic-slices" else image
        out = sitk.Resample(source, grid, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    if not (sitk.GetArrayViewFromImage(image) == 0).any():
        return out
    support = sitk.Resample(sitk.Cast(image != 0, sitk.sitkFloat32), grid, transform, sitk.sitkLinear, 0.0)
    return sitk.Mask(out, sitk.Cast(support >= 0.5, sitk.sitkUInt8))


def cubic_across_slices(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """``image`` with its thick axis (if any: > 1.5x ``spacing_mm`` and the other axes) re-sampled to
    ``spacing_mm`` by a cubic spline through the slice centres, in the image's own orientation.

    The new samples span the same physical extent (centre of the first to the last slice);
    in-plane samples, origin and direction stay, so a registration transform applies unchanged.
    """
    from scipy.interpolate import make_interp_spline

    spacing = np.array(image.GetSpacing(), dtype=float)
    axis = int(np.argmax(spacing))
    others = np.delete(spacing, axis)
    if spacing[axis] <= 1.5 * max(spacing_mm, others.max()) or image.GetSize()[axis] < 4:
        return image
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    np_axis = 2 - axis  # numpy order is (z, y, x)
    n = array.shape[np_axis]
    count = int(np.floor((n - 1) * spacing[axis] / spacing_mm)) + 1
    positions = np.arange(count) * spacing_mm / spacing[axis]
    spline = make_interp_spline(np.arange(n, dtype=float), array, k=3, axis=np_axis)
    out = sitk.GetImageFromArray(spline(positions).astype(np.float32))
    new_spacing = spacing.copy()
    new_spacing[axis] = spacing_mm
    out.SetSpacing(tuple(new_spacing))
    out.SetOrigin(image.GetOrigin())
    out.SetDirection(image.GetDirection())
    return out


def labels_onto(labels: sitk.Image, grid: sitk.Image) -> sitk.Image:
    """A labelmap on ``grid``: each label's indicator resampled linearly, then the most covered label per voxel."""
    arr = sitk.GetArrayViewFromImage(labels)
    values = [int(v) for v in np.unique(arr) if v != 0]
    if not values:
        out = sitk.Image(grid.GetSize(), sitk.sitkUInt8)
        out.CopyInformation(grid)
        return out
    scores = [np.full(grid.GetSize()[::-1], 0.5, dtype=np.float32)]  # background wins below half coverage
    sigma = _anti_alias_sigma(labels, grid)
    for value in values:
        indicator = sitk.Cast(labels == value, sitk.sitkFloat32)
        if max(sigma) > 0:
            indicator = sitk.DiscreteGaussian(indicator, [v * v for v in sigma], 64, 0.01, True)
        scores.append(sitk.GetArrayFromImage(sitk.Resample(indicator, grid, sitk.Transform(), sitk.sitkLinear, 0.0)))
    lut = np.array([0, *values], dtype=np.uint8)
    out = sitk.GetImageFromArray(lut[np.argmax(np.stack(scores), axis=0)])
    out.CopyInformation(grid)
    return out


def _anti_alias_sigma(source: sitk.Image, target: sitk.Image) -> list[float]:
    """Per source axis, a Gaussian width (mm) that averages over a coarser target voxel's extent along it."""
    extent = np.abs(np.array(target.GetDirection()).reshape(3, 3) * np.array(target.GetSpacing())[None, :])
    direction = np.abs(np.array(source.GetDirection()).reshape(3, 3))
    along = (direction.T @ extent).max(axis=1)  # target voxel extent along each source axis
    spacing = np.array(source.GetSpacing())
    return [float(0.4 * a) if a > 1.5 * s else 0.0 for a, s in zip(along, spacing)]


__all__ = ["INTERPOLATIONS", "cubic_across_slices", "working_grid", "resample_onto", "labels_onto"]
