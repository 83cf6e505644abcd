"""A background run as the panels show it: progress text with ETA, curves, and diagnostics."""

from __future__ import annotations

import os
import time

from weakseg_mrml.runs import Run, format_eta


def test_eta_is_readable():
    assert [format_eta(s) for s in (None, 4.4, 75, 3725)] == ["", "4 s", "1 min 15 s", "1 h 02 min"]


def test_run_reports_progress_eta_and_diagnostics():
    run = Run.start("selftest", {"steps": 6, "step_seconds": 0.2, "import_packages": False})
    texts = []
    while run.running:
        if run.poll():
            texts.append(run.status_text)
        time.sleep(0.02)
    run.wait(30)
    assert any("about" in t and "left" in t for t in texts), texts  # an ETA while running
    assert run.stage == "selftest" and run.fraction == 1.0
    result = run.finish()
    assert result["python"]
    diagnostics = run.diagnostics({"model": "none"})
    assert "WeakSeg" in diagnostics and "model: none" in diagnostics and '"event": "result"' in diagnostics


def test_the_worker_sees_weakseg_settings_made_after_slicer_started(monkeypatch, tmp_path):
    """Inside Slicer the worker starts from Slicer's startup environment; WEAKSEG_* set since then still reach it."""
    import types

    import slicer

    startup = {k: v for k, v in os.environ.items() if not k.startswith("WEAKSEG_")}
    monkeypatch.setattr(slicer, "app", object(), raising=False)
    monkeypatch.setattr(slicer, "util", types.SimpleNamespace(startupEnvironment=lambda: dict(startup)), raising=False)
    monkeypatch.setenv("WEAKSEG_MODELS", str(tmp_path / "models"))
    run = Run.start("selftest", {"steps": 0, "import_packages": False}, env={"OMP_NUM_THREADS": "1"})
    run.wait(60)
    environment = run.client.environment()
    assert environment["WEAKSEG_MODELS"] == str(tmp_path / "models") and environment["OMP_NUM_THREADS"] == "1"
    assert run.finish()["python"]
