"""The Model section of the Segment panels: choose, read about, import and find models; see the device.

What the card says (description, licence, expected inputs, training data) is shown under
the list, not hidden in a tooltip: the default model expects BraTS-preprocessed images
(skull-stripped, co-registered, 1 mm), and a user must see that before trusting a result.
"""

from __future__ import annotations

import qt
import slicer
from slicer.i18n import tr as _

from weakseg_mrml import devices
from weakseg_mrml.catalog import user_models_dir


def device_text() -> str:
    """What this machine offers ('GPU: NVIDIA ... (CUDA)'), for the panels' device line."""
    try:
        return _(devices.describe(devices.detect()))
    except Exception as exc:  # a broken torch install must not stop the panel from opening
        return _("Device detection failed: {message}").format(message=str(exc))


class ModelSection:
    """Drives ``modelComboBox``, ``modelInfoLabel``, ``importModelButton``, ``removeModelButton``,
    ``openModelsFolderButton`` and ``deviceStatusLabel``; ``on_changed(entry or None)`` when the choice changes."""

    def __init__(self, ui, logic, on_changed):
        self.ui, self.logic, self.on_changed = ui, logic, on_changed
        self.entries = []
        ui.modelComboBox.connect("currentIndexChanged(int)", self._changed)
        self.menu = qt.QMenu(ui.importModelButton)
        for text, callback in ((_("From a .zip file…"), self.import_zip), (_("From a folder…"), self.import_folder)):
            self.menu.addAction(text).connect("triggered()", callback)  # the form PythonQt supports
        ui.importModelButton.setMenu(self.menu)
        ui.openModelsFolderButton.connect("clicked(bool)", self.open_folder)
        ui.removeModelButton.connect("clicked(bool)", self.remove)

    def refresh(self) -> None:
        combo = self.ui.modelComboBox
        current = combo.currentData
        combo.blockSignals(True)
        combo.clear()
        self.entries = self.logic.models()
        for entry in self.entries:
            combo.addItem(entry.title(), str(entry.folder))
        combo.blockSignals(False)
        self.ui.noModelLabel.setVisible(not self.entries)
        combo.setVisible(bool(self.entries))
        self.select(current)

    def current(self):
        index = self.ui.modelComboBox.currentIndex
        return self.entries[index] if 0 <= index < len(self.entries) else None

    def select(self, folder) -> None:
        combo = self.ui.modelComboBox
        index = combo.findData(folder) if folder else -1
        combo.setCurrentIndex(index if index >= 0 else (0 if combo.count else -1))
        self._changed(combo.currentIndex)  # keep the parameter in step even when the index did not change

    def _changed(self, index) -> None:
        from weakseg_mrml.model_import import is_removable

        entry = self.current()
        self.ui.modelInfoLabel.setText(self.describe(entry) if entry else "")
        self.ui.removeModelButton.enabled = bool(entry and is_removable(entry))
        self.on_changed(entry)

    @staticmethod
    def describe(entry) -> str:
        """What the input must be first (it decides whether a result can be trusted), then the card's own text."""
        lines = [_("Expects: {inputs}").format(inputs=entry.inputs_text())]
        if entry.training_data:
            lines.append(_("Trained on: {data}. Images prepared differently (not skull-stripped, other "
                           "resolution) may give poorer results.").format(data=entry.training_data))
        if entry.description:
            lines.append(entry.description)
        if entry.licence:
            lines.append(_("Licence: {licence}").format(licence=entry.licence))
        return "\n".join(lines)

    def show_devices(self) -> None:
        self.ui.deviceStatusLabel.setText(device_text())

    # ------------------------------------------------------------------ import and folder

    def _import(self, source) -> None:
        from weakseg_mrml.model_import import import_model

        if not source:
            return
        from WeakSegQt.dependencies import ensure_dependencies

        if not ensure_dependencies("segment", _("Import model")):  # reading a card imports weakseg.models (torch)
            return
        with slicer.util.tryWithErrorDisplay(_("The model was not imported."), waitCursor=True):
            entry = import_model(source)
            self.refresh()
            self.select(str(entry.folder))
            slicer.util.showStatusMessage(_("Model {title} imported and verified").format(title=entry.title()), 5000)

    def import_zip(self) -> None:
        self._import(qt.QFileDialog.getOpenFileName(slicer.util.mainWindow(), _("Import a WeakSeg model"), "",
                                                    _("Model archive (*.zip)")))

    def import_folder(self) -> None:
        self._import(qt.QFileDialog.getExistingDirectory(slicer.util.mainWindow(), _("Import a WeakSeg model folder")))

    def remove(self) -> None:
        from weakseg_mrml.model_import import remove_model

        entry = self.current()
        if entry is None or not slicer.util.confirmOkCancelDisplay(
                _("Delete the model {title} from your models folder? This cannot be undone.").format(title=entry.title())):
            return
        with slicer.util.tryWithErrorDisplay(_("The model was not removed."), waitCursor=True):
            remove_model(entry)
        self.refresh()

    def open_folder(self) -> None:
        folder = user_models_dir()
        folder.mkdir(parents=True, exist_ok=True)
        qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(str(folder)))
