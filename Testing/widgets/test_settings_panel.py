"""WeakSeg's Application Settings page (``WeakSegQt/settings.py``) on real Qt widgets.

Slicer's settings dialog and ``ctkSettingsPanel`` are played by small stand-ins recording what
the page registers; the models folder really changes where the panels and the worker look.
"""

from __future__ import annotations

import os
import sys
import types

import pytest

pytest.importorskip("PyQt5.uic")
pytest.importorskip("slicer_core")

import pythonqt  # noqa: E402
import qt_stand_ins  # noqa: E402
import render_panels  # noqa: E402
from PyQt5 import QtWidgets  # noqa: E402


class _SettingsPanel(QtWidgets.QWidget):
    """``ctkSettingsPanel``: keeps the (key, widget, property) registrations."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.registered = []

    def registerProperty(self, key, widget, name, signal):
        self.registered.append((key, widget, name))


@pytest.fixture
def settings(monkeypatch, tmp_path):
    import slicer

    pythonqt.pythonqt_layer(monkeypatch)
    pythonqt.module_widget_layer(monkeypatch)
    pythonqt.property_access(monkeypatch)
    render_panels.application()
    monkeypatch.setitem(sys.modules, "ctk", types.SimpleNamespace(
        ctkSettingsPanel=_SettingsPanel, ctkPathLineEdit=qt_stand_ins.ctkPathLineEdit))
    monkeypatch.setattr(sys.modules["qt"], "SIGNAL", lambda signature: signature, raising=False)
    added = []
    monkeypatch.setattr(slicer, "app", types.SimpleNamespace(
        commandOptions=lambda: types.SimpleNamespace(noMainWindow=False),
        settingsDialog=lambda: types.SimpleNamespace(addPanel=lambda title, panel: added.append((title, panel)))),
        raising=False)
    monkeypatch.delenv("WEAKSEG_MODELS", raising=False)
    pythonqt.fresh_import(monkeypatch, render_panels.ROOT, "WeakSegQt.segment_panel")
    module = pythonqt.fresh_import(monkeypatch, render_panels.ROOT, "WeakSegQt.settings")
    yield module, added
    os.environ.pop("WEAKSEG_MODELS", None)


def test_the_page_registers_the_models_folder_and_device_and_applies_the_folder(settings, tmp_path):
    from weakseg_mrml.catalog import user_models_dir

    module, added = settings
    module.register_settings()
    assert [title for title, _panel in added] == ["WeakSeg"]
    page = added[0][1]
    assert [(key, name) for key, _widget, name in page.registered] == [
        ("WeakSeg/ModelsFolder", "currentPath"), ("WeakSeg/Device", "currentData")]
    assert [page.device.itemData(i) for i in range(page.device.count)][:3] == ["auto", "cpu", "cuda"]
    page.modelsFolder.currentPath = str(tmp_path / "shared-models")  # the user picks a folder
    assert user_models_dir() == tmp_path / "shared-models"  # what the panels list and the worker receives
    page.modelsFolder.currentPath = ""
    assert "WEAKSEG_MODELS" not in os.environ


def test_an_environment_variable_set_before_slicer_wins(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("WEAKSEG_MODELS", str(tmp_path / "from-environment"))
    module = pythonqt.fresh_import(monkeypatch, render_panels.ROOT, "WeakSegQt.settings")
    module.apply_models_folder(str(tmp_path / "from-settings"))
    assert os.environ["WEAKSEG_MODELS"] == str(tmp_path / "from-environment")
