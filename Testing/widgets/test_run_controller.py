"""The run display the three panels share (``WeakSegQt/runs.py``), on real Qt widgets and real worker runs.

The panel's ``.ui`` is loaded in PyQt5 and ``WeakSegQt.runs`` is imported against a thin
PythonQt layer (``qt`` = PyQt5's classes, ``obj.connect("signal()", slot)``, and the two
``slicer.util`` message calls recorded). The runs are real ``selftest`` / failing worker jobs.
Checks the review's B3 (training survives Close Scene), B4 (no redraw without news), B15/C3
(the log box) and B22 (nothing reserved or greyed out at rest).
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("PyQt5.uic")
pytest.importorskip("slicer_core")

import pythonqt  # noqa: E402
import render_panels  # noqa: E402

from weakseg_mrml.runs import Run  # noqa: E402


@pytest.fixture
def runs_module(monkeypatch):
    shown = pythonqt.pythonqt_layer(monkeypatch)
    return pythonqt.fresh_import(monkeypatch, render_panels.ROOT, "WeakSegQt.runs"), shown


def _panel():
    return render_panels.load(render_panels.PANELS["WeakSegTumor"])


def _wait(controller, seconds=120.0):
    app = render_panels.application()
    end = time.monotonic() + seconds
    while controller.busy and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    assert not controller.busy, "run did not end"


def test_a_run_shows_progress_then_rests_with_its_log(runs_module):
    runs, shown = runs_module
    ui = _panel()
    updates, ticks, results, ended = [], [], [], []
    controller = runs.RunController(ui, on_update=updates.append)
    controller.timer.timeout.connect(lambda: ticks.append(1))
    # At rest nothing is reserved: no progress bar, no greyed-out Cancel, no empty log box.
    assert ui.progressBar.isHidden() and ui.cancelButton.isHidden() and ui.logTextEdit.isHidden()
    run = Run.start("selftest", {"steps": 4, "step_seconds": 0.4, "import_packages": False})
    controller.start(run, "Self-test", results.append, on_end=lambda: ended.append(1))
    assert not ui.progressBar.isHidden() and not ui.cancelButton.isHidden() and not ui.logTextEdit.isHidden()
    _wait(controller)
    assert results and results[0]["python"] and ended == [1]
    assert ui.statusLabel.text() == "Self-test: done"
    assert ui.logTextEdit.toPlainText().splitlines() == ["Self-test started", "Self-test finished"]
    assert ui.progressBar.isHidden() and ui.cancelButton.isHidden() and not ui.copyDiagnosticsButton.isHidden()
    assert 0 < len(updates) < len(ticks)  # redrawn when the worker said something, not on every 200 ms tick
    assert not shown["errors"]


def test_close_scene_keeps_a_training_run_and_stops_a_segment_run(runs_module):
    runs, _ = runs_module
    ui = _panel()
    controller = runs.RunController(ui)
    training = Run.start("selftest", {"steps": 200, "step_seconds": 0.05, "import_packages": False})
    ended = []
    controller.start(training, "Training", None, scene_bound=False, on_end=lambda: ended.append("train"))
    controller.scene_closing()
    assert controller.busy and training.running and not ended
    controller.cancel()
    assert ended == ["train"] and not training.running
    segment = Run.start("selftest", {"steps": 200, "step_seconds": 0.05, "import_packages": False})
    controller.start(segment, "Segment", None, on_end=lambda: ended.append("segment"))
    controller.scene_closing()
    assert not controller.busy and not segment.running and ended == ["train", "segment"]
    assert ui.statusLabel.text() == "Segment: cancelled"
    assert ui.logTextEdit.toPlainText().splitlines()[-1] == "Segment cancelled"


def test_a_failed_run_says_why_in_the_panel_and_the_log(runs_module):
    runs, shown = runs_module
    ui = _panel()
    controller = runs.RunController(ui)
    ended = []
    controller.start(Run.start("selftest", {"steps": -1}), "Self-test", None, on_end=lambda: ended.append(1))
    _wait(controller)
    assert len(shown["errors"]) == 1 and shown["errors"][0].startswith("Self-test failed: ")
    assert "steps" in shown["errors"][0]
    assert ui.statusLabel.text() == shown["errors"][0]
    assert ui.logTextEdit.toPlainText().splitlines()[-1] == shown["errors"][0]
    assert ended == [1] and ui.cancelButton.isHidden() and not ui.copyDiagnosticsButton.isHidden()


def test_check_installation_logs_what_the_worker_sees(runs_module):
    import sys

    runs, shown = runs_module
    ui = _panel()
    controller = runs.RunController(ui)
    ui.checkInstallButton.click()
    assert controller.busy
    _wait(controller)
    log = ui.logTextEdit.toPlainText().splitlines()
    assert log[0] == "Installation check started" and log[-1] == "Installation check finished"
    assert any(line.startswith(f"Python {sys.version.split()[0]}: ") for line in log)
    assert any(line.startswith("Devices: cpu") for line in log) and not shown["errors"]
