"""Training curves (loss, validation metrics) as a table node plus a plot chart, for Slicer's plot view.

One table holds every curve (``step`` and one column per curve; steps a curve lacks are
NaN, which the plot skips); each curve is a plot series of the chart. Updating reuses the
nodes, so the view refreshes in place while training runs.
"""

from __future__ import annotations

import math

from slicer import vtkMRMLPlotChartNode, vtkMRMLPlotSeriesNode, vtkMRMLTableNode
from vtkmodules.vtkCommonCore import vtkDoubleArray

from weakseg_mrml import ATTRIBUTE_PREFIX, ROLE_ATTRIBUTE

ROLE = "training-curves"
CURVE_ATTRIBUTE = ATTRIBUTE_PREFIX + "Curve"


def _table_columns(curves: dict[str, list[tuple[int, float]]]) -> tuple[list[int], dict[str, list[float]]]:
    steps = sorted({step for points in curves.values() for step, _ in points})
    columns = {}
    for name, points in curves.items():
        by_step = dict(points)
        columns[name] = [float(by_step.get(step, math.nan)) for step in steps]
    return steps, columns


def update_curves(scene, curves: dict[str, list[tuple[int, float]]], chart=None, title: str = "Training"):
    """Create or refresh the chart (and its table and series) for ``curves``; returns the chart node."""
    if chart is None:
        chart = vtkMRMLPlotChartNode()
        chart.SetName(scene.GenerateUniqueName(f"{title} curves"))
        chart.SetAttribute(ROLE_ATTRIBUTE, ROLE)
        chart.SetTitle(title)
        chart.SetXAxisTitle("iteration")
        scene.AddNode(chart)
    table = chart.GetNodeReference("WeakSeg.table")
    if table is None:
        table = vtkMRMLTableNode()
        table.SetName(scene.GenerateUniqueName(f"{title} curves table"))
        table.SetAttribute(ROLE_ATTRIBUTE, ROLE)
        scene.AddNode(table)
        chart.SetNodeReferenceID("WeakSeg.table", table.GetID())
    steps, columns = _table_columns(curves)
    vtk_table = table.GetTable()
    vtk_table.Initialize()
    for name, values in [("step", [float(s) for s in steps]), *columns.items()]:
        array = vtkDoubleArray()
        array.SetName(name)
        for value in values:
            array.InsertNextValue(value)
        vtk_table.AddColumn(array)
    table.Modified()
    existing = {}
    for index in range(chart.GetNumberOfPlotSeriesNodes()):
        series = chart.GetNthPlotSeriesNode(index)
        existing[series.GetAttribute(CURVE_ATTRIBUTE)] = series
    for name in columns:
        series = existing.get(name)
        if series is None:
            series = vtkMRMLPlotSeriesNode()
            series.SetName(name)
            series.SetAttribute(CURVE_ATTRIBUTE, name)
            scene.AddNode(series)
            series.SetAndObserveTableNodeID(table.GetID())
            series.SetXColumnName("step")
            series.SetYColumnName(name)
            series.SetPlotType(vtkMRMLPlotSeriesNode.PlotTypeScatter)
            series.SetMarkerStyle(vtkMRMLPlotSeriesNode.MarkerStyleNone)
            chart.AddAndObservePlotSeriesNodeID(series.GetID())
    return chart
