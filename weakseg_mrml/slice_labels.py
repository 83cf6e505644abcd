"""Slice-level weak labels in the scene: one table node per volume and axis ⇄ the weak-label store.

The table has a ``slice`` column and one text column per class holding ``present``,
``absent`` or ``unknown``: readable in Slicer's table view and saved with the scene as
TSV. Tables are found by role, axis and volume reference, never by name. Slice indices are
those of the store: along the array axis that ``Grid.array_axis`` picks for the anatomical
axis, so an obliquely or sagittally acquired series is labelled on its true axial slices.
"""

from __future__ import annotations

import numpy as np
from slicer import vtkMRMLTableNode
from vtkmodules.vtkCommonCore import vtkIntArray, vtkStringArray

from weakseg.errors import WeakSegError
from weakseg.labels import AXES, PRESENT, UNKNOWN, Grid, WeakLabelStore
from weakseg.labels.schema import NAME_VALUES, VALUE_NAMES
from weakseg_mrml import ATTRIBUTE_PREFIX, ROLE_ATTRIBUTE
from weakseg_mrml.segmentation import place_beside
from weakseg_mrml.volumes import image_from_volume, world_ijk_to_ras

ROLE = "slice-labels"
AXIS_ATTRIBUTE = ATTRIBUTE_PREFIX + "Axis"
VOLUME_REFERENCE = "WeakSeg.volume"
SLICE_COLUMN = "slice"


def find_table(scene, volume_node, axis: str):
    """The slice-label table of ``volume_node`` on ``axis``, or None."""
    tables = scene.GetNodesByClass("vtkMRMLTableNode")
    for index in range(tables.GetNumberOfItems()):
        table = tables.GetItemAsObject(index)
        if (table.GetAttribute(ROLE_ATTRIBUTE) == ROLE and table.GetAttribute(AXIS_ATTRIBUTE) == axis
                and table.GetNodeReferenceID(VOLUME_REFERENCE) == volume_node.GetID()):
            return table
    return None


def get_or_create_table(scene, volume_node, axis: str, n_slices: int):
    """Find or add the table (``n_slices`` rows, all classes unknown until marked)."""
    if axis not in AXES:
        raise WeakSegError(f"unknown axis {axis!r}; expected one of {', '.join(AXES)}")
    table = find_table(scene, volume_node, axis)
    if table is not None:
        if table.GetNumberOfRows() != n_slices:
            raise WeakSegError(f"slice-label table '{table.GetName()}' has {table.GetNumberOfRows()} rows, "
                               f"volume has {n_slices} {axis} slices")
        return table
    table = vtkMRMLTableNode()
    table.SetName(scene.GenerateUniqueName(f"{volume_node.GetName()} {axis} slice labels"))
    table.SetAttribute(ROLE_ATTRIBUTE, ROLE)
    table.SetAttribute(AXIS_ATTRIBUTE, axis)
    table.SetNodeReferenceID(VOLUME_REFERENCE, volume_node.GetID())
    slices = vtkIntArray()
    slices.SetName(SLICE_COLUMN)
    slices.SetNumberOfTuples(n_slices)
    for row in range(n_slices):
        slices.SetValue(row, row)
    table.AddColumn(slices)
    scene.AddNode(table)
    place_beside(table, volume_node)
    return table


def classes(table) -> list[str]:
    """Class columns, in table order."""
    return [table.GetColumnName(c) for c in range(table.GetNumberOfColumns()) if table.GetColumnName(c) != SLICE_COLUMN]


def _column(table, cls: str, *, create: bool) -> vtkStringArray | None:
    column = table.GetTable().GetColumnByName(cls)
    if column is None and create:
        column = vtkStringArray()
        column.SetName(cls)
        column.SetNumberOfValues(table.GetNumberOfRows())
        for row in range(table.GetNumberOfRows()):
            column.SetValue(row, VALUE_NAMES[UNKNOWN])
        table.AddColumn(column)
    return column


def set_labels(table, cls: str, values: np.ndarray) -> None:
    """Replace one class's labels (PRESENT 1 / ABSENT 0 / UNKNOWN -1 per slice)."""
    values = np.asarray(values)
    if values.shape != (table.GetNumberOfRows(),):
        raise WeakSegError(f"'{cls}' needs {table.GetNumberOfRows()} slice labels, got shape {values.shape}")
    column = _column(table, cls, create=True)
    for row, value in enumerate(values.tolist()):
        column.SetValue(row, VALUE_NAMES[int(value)])
    column.Modified()
    table.Modified()


def set_label(table, cls: str, index: int, value: int) -> None:
    """Mark one slice; what the keyboard shortcuts call while the user scrolls."""
    if not 0 <= index < table.GetNumberOfRows():
        raise WeakSegError(f"slice {index} outside 0-{table.GetNumberOfRows() - 1}")
    if value not in VALUE_NAMES:
        raise WeakSegError(f"slice label must be present (1), absent (0) or unknown (-1), not {value!r}")
    column = _column(table, cls, create=True)
    column.SetValue(index, VALUE_NAMES[value])
    column.Modified()
    table.Modified()


def get_labels(table, cls: str) -> np.ndarray:
    """int8 per slice; all unknown for a class without a column."""
    out = np.full(table.GetNumberOfRows(), UNKNOWN, np.int8)
    column = _column(table, cls, create=False)
    if column is None:
        return out
    for row in range(table.GetNumberOfRows()):
        text = column.GetValue(row)
        if text not in NAME_VALUES:
            raise WeakSegError(f"slice-label table '{table.GetName()}': '{cls}' row {row} holds {text!r}, "
                               "expected present/absent/unknown")
        out[row] = NAME_VALUES[text]
    return out


def set_range(table, cls: str, first: int, last: int) -> None:
    """First/last tumour slice: inside present, outside absent (as ``WeakLabelStore.set_slice_range``)."""
    n = table.GetNumberOfRows()
    if not 0 <= first <= last < n:
        raise WeakSegError(f"slice range {first}-{last} outside 0-{n - 1} or reversed")
    values = np.zeros(n, np.int8)
    values[first:last + 1] = PRESENT
    set_labels(table, cls, values)


def strip(table, cls: str) -> list[tuple[int, int, str]]:
    """Runs of equal labels as (first, last, name) for the labelled-slice strip in the panel."""
    values = get_labels(table, cls)
    runs = []
    start = 0
    for index in range(1, values.size + 1):
        if index == values.size or values[index] != values[start]:
            runs.append((start, index - 1, VALUE_NAMES[int(values[start])]))
            start = index
    return runs


def table_from_store(scene, store: WeakLabelStore, volume_node, axis: str = "axial"):
    """Show the store's slice labels of ``axis`` in the scene (classes with labels only)."""
    _check_grid(store, volume_node)
    table = get_or_create_table(scene, volume_node, axis, store.grid.n_slices(axis))
    for cls in store.known_classes("slices", axis):
        set_labels(table, cls, store.slice_labels(cls, axis))
    return table


def store_from_table(table, store: WeakLabelStore) -> None:
    """Copy every class column into the store; a column still all unknown is left out (stays unknown)."""
    axis = table.GetAttribute(AXIS_ATTRIBUTE)
    n = store.grid.n_slices(axis)
    if table.GetNumberOfRows() != n:
        raise WeakSegError(f"slice-label table has {table.GetNumberOfRows()} rows, the case has {n} {axis} slices")
    for cls in classes(table):
        values = get_labels(table, cls)
        if (values == UNKNOWN).all() and cls not in store.known_classes("slices", axis):
            continue
        store.set_slice_labels(cls, axis, values)


def _check_grid(store: WeakLabelStore, volume_node) -> None:
    if not store.grid.matches(image_from_volume(volume_node)):
        raise WeakSegError(f"volume '{volume_node.GetName()}' is not on the grid the weak labels were made on", store.path)


def slice_index_at(volume_node, ras: tuple[float, float, float], axis: str) -> int:
    """The store's slice index (on ``axis``) through the RAS point, e.g. a slice view's centre."""
    ijk = np.linalg.solve(world_ijk_to_ras(volume_node), np.array([*ras, 1.0]))[:3]  # parent transforms included
    grid = Grid.from_image(image_from_volume(volume_node))
    array_axis = grid.array_axis(axis)
    index_axis = 2 - array_axis  # array (z, y, x) ↔ index (i, j, k)
    index = int(round(ijk[index_axis]))
    n = grid.shape[array_axis]
    if not 0 <= index < n:
        raise WeakSegError(f"the point is outside volume '{volume_node.GetName()}' ({axis} slice {index} of 0-{n - 1})")
    return index
