"""The phantom's grid and the smooth random fields that make its shapes irregular.

Random fields are drawn on a coarse lattice and interpolated, so their spatial scale
is a fraction of the field of view whatever the voxel size, and a BraTS-size field
costs well under a second.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from weakseg.phantom.config import PhantomConfig


def streams(seed: int, kind: str, n: int) -> list[np.random.Generator]:
    """Independent random streams, so changing one part (e.g. noise) leaves the others alone."""
    entropy = [int(seed), sum(kind.encode())]
    return [np.random.default_rng(s) for s in np.random.SeedSequence(entropy).spawn(n)]


def make_grid(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> sitk.Image:
    """An empty uint8 image on a BraTS-like LPS grid: identity direction, origin (0, -(ny-1)·sy, 0)."""
    nz, ny, nx = shape
    grid = sitk.Image(nx, ny, nz, sitk.sitkUInt8)
    grid.SetSpacing(spacing)
    grid.SetOrigin((0.0, -(ny - 1) * spacing[1], 0.0))
    grid.SetDirection((1, 0, 0, 0, 1, 0, 0, 0, 1))
    return grid


def centred_coordinates(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open (broadcastable) LPS coordinates in mm from the grid centre: x → left, y → posterior, z → up."""
    nz, ny, nx = shape
    sx, sy, sz = spacing
    z = ((np.arange(nz, dtype=np.float32) - (nz - 1) / 2) * sz)[:, None, None]
    y = ((np.arange(ny, dtype=np.float32) - (ny - 1) / 2) * sy)[None, :, None]
    x = ((np.arange(nx, dtype=np.float32) - (nx - 1) / 2) * sx)[None, None, :]
    return z, y, x


def fov_mm(config: PhantomConfig) -> np.ndarray:
    """Field of view (z, y, x) in mm."""
    sx, sy, sz = config.spacing_xyz
    return np.array(config.shape, dtype=np.float64) * np.array([sz, sy, sx])


def _basis(n: int, cells: float, lattice: int) -> np.ndarray:
    """(n, lattice) Gaussian interpolation weights from lattice points to voxel centres."""
    t = (np.arange(n, dtype=np.float32) + 0.5) / n * cells + 1.5
    k = np.arange(lattice, dtype=np.float32)
    return np.exp(-0.5 * ((t[:, None] - k[None, :]) / 0.75) ** 2).astype(np.float32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], cells: float | tuple[float, ...]) -> np.ndarray:
    """Zero-mean, unit-std smooth noise with about ``cells`` bumps along each axis (float32, 3D).

    A random lattice interpolated with separable Gaussian weights (three matrix products),
    which costs a fraction of a second even at BraTS size.
    """
    cells_t = np.broadcast_to(np.asarray(cells, dtype=float), (3,))
    cells_t = np.maximum(cells_t, 1.0)
    lattice = tuple(int(np.ceil(c)) + 3 for c in cells_t)
    coarse = rng.standard_normal(lattice, dtype=np.float32)
    bz, by, bx = (_basis(n, c, l) for n, c, l in zip(shape, cells_t, lattice))
    field = coarse @ bx.T  # (Lz, Ly, nx)
    field = np.matmul(by, field)  # (Lz, ny, nx)
    field = (bz @ field.reshape(lattice[0], -1)).reshape(shape)
    field -= field.mean(dtype=np.float64)
    std = float(field.std(dtype=np.float64))
    return field / std if std > 0 else field


def soft_fractions(labels: np.ndarray, values: tuple[int, ...], sigma: float = 0.6) -> np.ndarray:
    """Partial-volume fractions (one channel per value, summing to 1) from a hard label map."""
    stack = np.stack([ndi.gaussian_filter((labels == v).astype(np.float32), sigma) for v in values])
    total = stack.sum(axis=0)
    np.divide(stack, np.maximum(total, 1e-6), out=stack)
    return stack


def to_image(array: np.ndarray, grid: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.CopyInformation(grid)
    return image


def signed_distance_mm(mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Distance (mm) to the mask's surface: positive inside, negative outside (float32).

    SimpleITK's Maurer transform: several times faster than scipy's EDT at BraTS size.
    """
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing(tuple(float(s) for s in spacing))
    distance = sitk.SignedMaurerDistanceMap(image, insideIsPositive=True, squaredDistance=False, useImageSpacing=True)
    return sitk.GetArrayFromImage(distance).astype(np.float32)
