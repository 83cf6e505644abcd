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
    from weakseg_mrml import devices
    from weakseg_mrml.catalog import list_models

    for name in ("progressBar", "cancelButton", "copyDiagnosticsButton", "logTextEdit"):
        getattr(widget, name).setVisible(False)  # RunController._show_idle
    device_line = devices.describe(devices.detect())
    if panel == "WeakSegTrain":
        from WeakSegTrainLib.logic import METHOD_TITLES

        widget.methodComboBox.addItem(METHOD_TITLES["mixed"])
        for text in ("Automatic (GPU when available)", "CPU", "GPU (CUDA)"):
            widget.trainDeviceComboBox.addItem(text)
        widget.deviceStatusLabel.setText(device_line)
        return
    kind = "oar" if panel == "WeakSegOAR" else "tumour"
    models = list_models(kind)
    for entry in models:
        widget.modelComboBox.addItem(entry.title())
    from weakseg_mrml.model_import import is_removable

    widget.modelComboBox.setVisible(bool(models))
    widget.removeModelButton.setEnabled(bool(models) and is_removable(models[0]))
    widget.noModelLabel.setVisible(not models)
    if models:
        entry = models[0]
        lines = [entry.description] if entry.description else []
        lines.append(f"Expects: {entry.inputs_text()}")
        if entry.training_data:
            lines.append(f"Trained on: {entry.training_data}. Images prepared differently (not skull-stripped, "
                         "other resolution) may give poorer results.")
        if entry.licence:
            lines.append(f"Licence: {entry.licence}")
        widget.modelInfoLabel.setText("\n".join(lines))
    for text in ("Automatic (GPU when available)", "CPU", "GPU (CUDA)"):
        widget.deviceComboBox.addItem(text)
    widget.deviceStatusLabel.setText(device_line)
    widget.reviewCollapsibleButton.setVisible(False)  # no result yet
    widget.demoCaseButton.setVisible(kind != "oar")  # offers_demo
    if kind != "oar":  # WeakSeg Tumor opens with its export section collapsed (OAR: open, export_first)
        from PyQt5 import QtWidgets

        section = widget.exportCollapsibleButton
        section.setTitle(section.title().replace("▾", "▸"))
        for child in section.findChildren(QtWidgets.QWidget):
            child.setVisible(False)


def render(panel: str, out: Path) -> Path:
    """Render ``panel`` as it opens in Slicer into the PNG ``out``."""
    widget = load(PANELS[panel])
    _at_rest(panel, widget)
    widget.setWindowTitle(panel)
    widget.resize(WIDTH, 10)
    widget.show()
    application().processEvents()
    widget.resize(max(WIDTH, widget.minimumSizeHint().width()), widget.sizeHint().height())
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
