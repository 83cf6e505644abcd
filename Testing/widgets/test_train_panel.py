"""WeakSeg Train's widget methods (``WeakSegTrain/WeakSegTrain.py``) on the real widgets, scene and worker.

Built as ``test_segment_panel`` builds the Segment panel (``pythonqt`` layers, the parameter
node a namespace). Checked: the case table, opening a case (previous one closed, unsaved labels
asked about), the labels summary, the no-overwrite mode set at each editing start (review B6),
leaving the module stops the editor (B5), and Close Scene keeps a training running (B3).
"""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("PyQt5.uic")
pytest.importorskip("slicer_core")

import pythonqt  # noqa: E402
import render_panels  # noqa: E402


@pytest.fixture
def train(monkeypatch, mrml_scene, tmp_path):
    import slicer

    from weakseg_mrml.demo import write_demo_cases

    shown = pythonqt.pythonqt_layer(monkeypatch)
    pythonqt.module_widget_layer(monkeypatch)
    monkeypatch.setattr(slicer, "mrmlScene", mrml_scene, raising=False)
    pythonqt.fresh_import(monkeypatch, render_panels.ROOT, "WeakSegQt.runs")
    pythonqt.property_access(monkeypatch)
    monkeypatch.syspath_prepend(str(render_panels.ROOT / "WeakSegTrain"))
    module = pythonqt.fresh_import(monkeypatch, render_panels.ROOT, "WeakSegTrain")
    monkeypatch.setattr(module.WeakSegTrainLogic, "getParameterNode", lambda self: None, raising=False)
    widget = module.WeakSegTrainWidget()
    try:
        widget.setup()  # the module's own setup: loads the .ui, connects every signal, prepares the editor
        ui = widget.ui
        write_demo_cases(tmp_path / "cases")
        ui.casesFolderPath.currentPath = str(tmp_path / "cases")  # as the user picking the folder
        yield widget, ui, shown
    finally:
        widget.cleanup() if hasattr(widget, "runs") else widget.removeObservers()  # no observer outlives it


def test_open_label_save_and_switch_cases(train):
    from weakseg.labels import PRESENT

    widget, ui, shown = train
    widget.refreshCases()
    assert ui.caseTable.rowCount() == 2 and ui.caseTable.item(0, 1).text() == "not started"
    assert not ui.openCaseButton.isEnabled()
    ui.caseTable.selectRow(0)
    assert ui.openCaseButton.isEnabled() and not ui.saveCaseButton.isEnabled()
    widget.onOpenCase()
    first = widget.logic.current
    assert ui.openCaseLabel.text == f"Open: {first.entry.case_id}"
    assert ui.saveCaseButton.isEnabled() and ui.labelSlicesButton.isEnabled()
    assert ui.stripLabel.text == "none yet"

    widget.logic.set_first_last("WT", 3, 5)
    widget.updateStrip()
    assert "axial: " in ui.stripLabel.text and "3–5 present" in ui.stripLabel.text
    widget.startScribbling("foreground")
    assert ui.scribbleEditor.editor_node.GetOverwriteMode() == ui.scribbleEditor.editor_node.OverwriteNone
    assert ("setActiveEffectByName", "Paint") in ui.scribbleEditor.calls
    assert ui.drawCoreButton.isEnabled() and ui.drawFlairButton.isEnabled()
    widget.startDrawingMask("flair")  # EMReDL's masks: their own segmentation, the FLAIR segment current
    masks, ids = widget.logic.mask_segments()
    assert ("setCurrentSegmentID", ids["flair"]) in ui.scribbleEditor.calls and masks is not first.scribbles

    # Switching with unsaved labels asks first (the answer here is yes), and closes the first case.
    ui.caseTable.selectRow(1)
    widget.onOpenCase()
    assert shown["questions"] and "WT" in shown["questions"][-1]
    assert first.reference.GetScene() is None and widget.logic.current.entry.case_id != first.entry.case_id
    # Saved labels are not asked about again.
    widget.logic.mark_slice("ET", PRESENT, index=2)
    widget.onSaveCase()
    assert ui.statusComboBox.currentText == "partial"  # labelled: no longer "not started"
    questions = len(shown["questions"])
    ui.caseTable.selectRow(0)
    widget.onOpenCase()
    assert len(shown["questions"]) == questions and not shown["errors"]
    assert ui.caseTable.item(1, 1).text() == "partial"


def test_leaving_the_module_stops_the_editor(train):
    widget, ui, _shown = train
    ui.scribbleEditor.setupViewObservations()
    widget.exit()
    assert ("setActiveEffect", None) in ui.scribbleEditor.calls and not ui.scribbleEditor.observing
    assert ("uninstallKeyboardShortcuts",) in ui.scribbleEditor.calls


def test_close_scene_keeps_training_running(train):
    from weakseg_mrml.runs import Run

    widget, ui, _shown = train
    run = Run.start("selftest", {"steps": 200, "step_seconds": 0.05, "import_packages": False})
    widget.runs.start(run, "Training", None, scene_bound=False)
    widget.onSceneStartClose(None, None)
    time.sleep(0.2)
    assert widget.runs.busy and run.running and widget.logic.current is None
    widget.runs.cancel()
    assert not run.running


def test_the_case_list_says_what_the_next_hour_of_annotation_buys(train, tmp_path, monkeypatch):
    import sys

    widget, ui, shown = train
    payoff = sys.modules["WeakSegTrainLib.payoff"]
    monkeypatch.setattr(payoff, "CURVE_FILE", tmp_path / "none.json")
    widget.refreshCases()
    text = ui.nextHourLabel.text
    assert text.startswith("Next hour of annotation (2 full, 0 slice-labelled, 0 unlabelled):")
    assert "full: no payoff curve measured yet" in text

    arm = lambda kind, n, wt: {"kind": kind, "n_full": n, "per_case": {"a": {}}, "summary": {"WT": {"mean": wt}}}  # noqa: E731
    curve = {"plan": {"folds": [["a"], ["b"]]}, "cases_total": 6, "units_done": 3, "units_total": 3,
             "arms": {"full-all": arm("full", None, 0.8), "full-2": arm("full", 2, 0.5), "mixed-2": arm("mixed", 2, 0.6)}}
    (tmp_path / "curve.json").write_text(json.dumps(curve))
    monkeypatch.setattr(payoff, "CURVE_FILE", tmp_path / "curve.json")
    widget.refreshCases()
    lines = ui.nextHourLabel.text.splitlines()
    assert lines[1] == "full: 1.3 more case(s), WT Dice +13.3 points"  # 0.5 → 0.8 from 2 to 5 cases: 0.1 a case, 4/3 cases
    assert "slices: no unlabelled case left" in lines and not shown["errors"]
