"""Training curves → table + plot chart nodes, refreshed in place."""

from __future__ import annotations

import math

from weakseg_mrml.plots import update_curves


def test_curves_become_a_chart_and_refresh_in_place(mrml_scene):
    curves = {"train/loss": [(1, 0.9), (2, 0.7)], "validation/dice_WT": [(2, 0.4)]}
    chart = update_curves(mrml_scene, curves)
    assert chart.GetNumberOfPlotSeriesNodes() == 2
    table = chart.GetNodeReference("WeakSeg.table")
    assert table.GetNumberOfRows() == 2
    dice = table.GetTable().GetColumnByName("validation/dice_WT")
    assert math.isnan(dice.GetValue(0)) and dice.GetValue(1) == 0.4

    curves["train/loss"].append((3, 0.5))
    again = update_curves(mrml_scene, curves, chart)
    assert again is chart and chart.GetNumberOfPlotSeriesNodes() == 2
    assert table.GetNumberOfRows() == 3
    assert table.GetTable().GetColumnByName("train/loss").GetValue(2) == 0.5
    series = chart.GetNthPlotSeriesNode(0)
    assert series.GetTableNode() is table and series.GetXColumnName() == "step"
