"""LPS (ITK, DICOM) ⇄ RAS (Slicer) voxel-to-world matrices.

A SimpleITK image maps index (i, j, k) to LPS by ``origin + direction · diag(spacing) · ijk``;
Slicer maps it to RAS. The two worlds differ by negating x and y, so the conversion is a
sign flip of the first two rows: exact, with no resampling and no rounding.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from vtkmodules.vtkCommonMath import vtkMatrix4x4

from weakseg.errors import WeakSegError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def ijk_to_ras_array(image: sitk.Image) -> np.ndarray:
    """4×4 index-to-RAS matrix of a 3D image."""
    if image.GetDimension() != 3:
        raise WeakSegError(f"expected a 3D image, got {image.GetDimension()}D")
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    matrix = np.eye(4)
    matrix[:3, :3] = LPS_TO_RAS @ direction @ np.diag(image.GetSpacing())
    matrix[:3, 3] = LPS_TO_RAS @ np.array(image.GetOrigin(), dtype=float)
    return matrix


def lps_geometry(ijk_to_ras: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """(origin, spacing, direction) in LPS from a 4×4 index-to-RAS matrix."""
    linear = LPS_TO_RAS @ np.asarray(ijk_to_ras, dtype=float)[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    if np.any(spacing <= 0):
        raise WeakSegError("volume has a zero voxel spacing")
    direction = linear / spacing
    origin = LPS_TO_RAS @ np.asarray(ijk_to_ras, dtype=float)[:3, 3]
    return tuple(origin.tolist()), tuple(spacing.tolist()), tuple(direction.ravel().tolist())


def to_vtk_matrix(matrix: np.ndarray):
    out = vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            out.SetElement(r, c, float(matrix[r, c]))
    return out


def from_vtk_matrix(matrix) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
