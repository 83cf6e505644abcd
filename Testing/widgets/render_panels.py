"""Load each panel's .ui in real Qt (PyQt5, CTK/qMRML stand-ins) and render it as the module shows it at rest.

``python Testing/widgets/render_panels.py docs/screenshots`` rewrites the screenshots the extension
metadata points at (``EXTENSION_SCREENSHOTURLS``); the widget tests call ``load`` and ``render``.
The state shown is what the modules' Python sets when a panel opens: idle run area (no progress
bar, no Cancel), the installed models with their card text, the device line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
PANELS = {
    "WeakSegTumor": ROOT / "WeakSegQt" / "Resources" / "UI" / "SegmentPanel.ui",
    "WeakSegOAR": ROOT / "WeakSegQt" / "Resources" / "UI" / "SegmentPanel.ui",
    "WeakSegTrain": ROOT / "WeakSegTrain" / "Resources" / "UI" / "WeakSegTrain.ui",
}
WIDTH = 460


_APP = []


def application():
    """The one QApplication (kept referenced: PyQt destroys an unreferenced one at once)."""
    from PyQt5 import QtWidgets

    if not _APP:
        _APP.append(QtWidgets.QApplication.instance() or QtWidgets.QApplication(["weakseg-widget-tests"]))
    return _APP[0]


def load(ui_file: Path):
    """The .ui's top widget, every child reachable by its object name (as ``childWidgetVariables`` gives)."""
    for folder in (Path(__file__).parent, ROOT / "WeakSegTumor", ROOT / "WeakSegOAR", ROOT / "WeakSegTrain"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import qt_stand_ins
    from PyQt5 import uic

    qt_stand_ins.install()
    application()
    return uic.loadUi(str(ui_file))


def _at_rest(panel: str, widget) -> None:
    """Put the panel in the state the modules' own Python gives it on opening.

    The shared panel classes (``WeakSegQt.runs.RunController``, ``WeakSegQt.models.ModelSection``)
    really run here, through the ``pythonqt`` layer; only what the module widgets themselves do
    (filling the device and method combos) is repeated.
    """
    import pytest

    import pythonqt

    with pytest.MonkeyPatch.context() as mp:
        pythonqt.pythonqt_layer(mp)
        runs = pythonqt.fresh_import(mp, ROOT, "WeakSegQt.runs")
        widget._runs = runs.RunController(widget)  # idle: no progress bar, Cancel or empty log
        pythonqt.property_access(mp)
        models = pythonqt.fresh_import(mp, ROOT, "WeakSegQt.models")
        if panel == "WeakSegTrain":
            from WeakSegTrainLib.logic import training_methods

            for info in training_methods().values():
                widget.methodComboBox.addItem(info.title)
            _devices(widget.trainDeviceComboBox)
            widget.deviceStatusLabel.setText(models.device_text())
            return
        from WeakSegOARLib.logic import WeakSegOARLogic
        from WeakSegTumorLib.logic import WeakSegTumorLogic

        logic = WeakSegOARLogic() if panel == "WeakSegOAR" else WeakSegTumorLogic()
        widget._models = models.ModelSection(widget, logic, on_changed=lambda entry: None)
        widget._models.refresh()
        widget._models.show_devices()
    _devices(widget.deviceComboBox)
    widget.reviewCollapsibleButton.setVisible(False)  # no result yet
    widget.demoCaseButton.setVisible(panel != "WeakSegOAR")  # offers_demo
    if panel != "WeakSegOAR":  # WeakSeg Tumor opens with its export section collapsed (OAR: open, export_first)
        from PyQt5 import QtWidgets

        section = widget.exportCollapsibleButton
        section.setTitle(section.title().replace("▾", "▸"))
        for child in section.findChildren(QtWidgets.QWidget):
            child.setVisible(False)


def _devices(combo) -> None:
    for text in ("Automatic (GPU when available)", "CPU", "GPU (CUDA)"):  # segment_panel.device_choices
        combo.addItem(text)


def render(panel: str, out: Path) -> Path:
    """Render ``panel`` as it opens in Slicer into the PNG ``out``."""
    widget = load(PANELS[panel])
    _at_rest(panel, widget)
    widget.setWindowTitle(panel)
    widget.resize(WIDTH, 10)
    widget.show()
    application().processEvents()
    width = max(WIDTH, widget.minimumSizeHint().width())
    for _ in range(3):  # word-wrapped labels settle their height only once the width is known
        layout = widget.layout()
        height = layout.heightForWidth(width) if layout.hasHeightForWidth() else widget.sizeHint().height()
        widget.resize(width, max(height, widget.sizeHint().height()))
        application().processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(out)):
        raise RuntimeError(f"could not write {out}")
    widget.close()
    return out


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
    for name in PANELS:
        print(render(name, folder / f"{name}.png"))
