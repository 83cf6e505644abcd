"""Slice labels from a slice view: which slice of the case the view shows, on which axis, and the strip.

Used by the "WeakSeg slice labels" Segment Editor effect and the WeakSeg Train panel alike.
The axis is read from the view, not from a setting: a view's plane normal is matched to the
volume index axis it is most nearly parallel to (as Slicer picks a view's IJK axis), and that
index axis to the store's anatomical axis (``Grid.array_axis``). So the Green view of an
axially acquired series labels coronal slices, the Red view of a sagittal series labels its
axial slices, and a view oblique to the volume is refused rather than mislabelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vtkmodules.vtkCommonMath import vtkMatrix4x4

from weakseg.errors import WeakSegError
from weakseg.labels import AXES, PRESENT, Grid
from weakseg_mrml import slice_labels as slice_io
from weakseg_mrml.geometry import from_vtk_matrix
from weakseg_mrml.volumes import image_from_volume, world_ijk_to_ras

MIN_COSINE = 0.97
"""A view whose normal is within ~14° of an index axis shows that axis' slices."""

COLOURS = {"present": (0.95, 0.35, 0.25), "absent": (0.35, 0.65, 0.95), "unknown": (0.45, 0.45, 0.45)}


def _matrix(vtk_matrix: vtkMatrix4x4) -> np.ndarray:
    return from_vtk_matrix(vtk_matrix)


def view_axis(volume_node, slice_node) -> str:
    """The store axis ('axial', 'coronal', 'sagittal') whose slices ``slice_node`` shows."""
    normal = _matrix(slice_node.GetSliceToRAS())[:3, 2]
    columns = world_ijk_to_ras(volume_node)[:3, :3]
    cosines = np.abs(columns.T @ normal) / (np.linalg.norm(columns, axis=0) * np.linalg.norm(normal))
    index_axis = int(np.argmax(cosines))
    if cosines[index_axis] < MIN_COSINE:
        raise WeakSegError(f"view '{slice_node.GetName()}' is oblique to volume '{volume_node.GetName()}'; "
                           "reset its orientation to label slices")
    grid = Grid.from_image(image_from_volume(volume_node))
    for axis in AXES:
        if 2 - grid.array_axis(axis) == index_axis:  # array (z, y, x) ↔ index (i, j, k)
            return axis
    raise WeakSegError(f"volume '{volume_node.GetName()}' has no anatomical axis along index axis {index_axis}")


def view_point(slice_node, xy=None) -> tuple[float, float, float]:
    """RAS of the view pixel ``xy`` (the mouse position), or of the view's centre when None."""
    if xy is None:
        return tuple(_matrix(slice_node.GetSliceToRAS())[:3, 3].tolist())
    ras = _matrix(slice_node.GetXYToRAS()) @ np.array([float(xy[0]), float(xy[1]), 0.0, 1.0])
    return tuple(ras[:3].tolist())


@dataclass(frozen=True)
class ViewSlice:
    axis: str
    index: int
    n_slices: int


def slice_under_view(volume_node, slice_node, xy=None) -> ViewSlice:
    """The case slice ``slice_node`` shows (at ``xy`` when given)."""
    axis = view_axis(volume_node, slice_node)
    index = slice_io.slice_index_at(volume_node, view_point(slice_node, xy), axis)
    return ViewSlice(axis, index, Grid.from_image(image_from_volume(volume_node)).n_slices(axis))


def table_for_view(scene, volume_node, where: ViewSlice):
    return slice_io.get_or_create_table(scene, volume_node, where.axis, where.n_slices)


def mark(scene, volume_node, slice_node, cls: str, value: int, xy=None) -> ViewSlice:
    """Label the slice under the view present / absent / unknown for ``cls``."""
    where = slice_under_view(volume_node, slice_node, xy)
    slice_io.set_label(table_for_view(scene, volume_node, where), cls, where.index, value)
    return where


def set_range_end(scene, volume_node, slice_node, cls: str, *, first: bool, xy=None) -> tuple[int, int]:
    """Make the slice under the view the first (or last) tumour slice: the range is present, the rest absent.

    The other end is kept from the labels already there (the last/first present slice), or is
    this slice when none is present yet. Returns the range set.
    """
    where = slice_under_view(volume_node, slice_node, xy)
    table = table_for_view(scene, volume_node, where)
    present = np.flatnonzero(slice_io.get_labels(table, cls) == PRESENT)
    other = int(present[-1] if first else present[0]) if present.size else where.index
    low, high = sorted((where.index, other))
    slice_io.set_range(table, cls, low, high)
    return low, high


def strip(scene, volume_node, slice_node, cls: str, xy=None) -> tuple[ViewSlice, list[tuple[int, int, str]]]:
    """The slice under the view and the runs of labels along its axis, for the strip drawn in the view."""
    where = slice_under_view(volume_node, slice_node, xy)
    table = slice_io.find_table(scene, volume_node, where.axis)
    if table is None:
        return where, [(0, where.n_slices - 1, "unknown")]
    return where, slice_io.strip(table, cls)


def strip_rectangles(runs, n_slices: int, height: float, *, x0: float = 6.0, width: float = 10.0,
                     margin: float = 20.0) -> list[tuple[float, float, float, float, tuple[float, float, float]]]:
    """View-pixel rectangles (x0, y0, x1, y1, rgb) of the strip: slice 0 at the bottom, one run each."""
    span = max(height - 2 * margin, 1.0)
    out = []
    for first, last, label in runs:
        y0 = margin + span * first / n_slices
        y1 = margin + span * (last + 1) / n_slices
        out.append((x0, y0, x0 + width, y1, COLOURS[label]))
    return out


def marker_y(index: int, n_slices: int, height: float, *, margin: float = 20.0) -> float:
    """Height (view pixels) of the current-slice marker beside the strip."""
    return margin + max(height - 2 * margin, 1.0) * (index + 0.5) / n_slices
