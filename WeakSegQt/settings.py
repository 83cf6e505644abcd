"""WeakSeg's page in Application Settings (the MONAILabel pattern): where models live, which device to prefer.

The models folder is WeakSeg's ``WEAKSEG_MODELS`` setting: applied to this process at startup
(the panels list models from it) and passed on to every worker (``weakseg_mrml.runs``), so a
folder on a shared drive or a larger disk needs no environment variable. An environment
variable set before Slicer started still wins, as the engine documents.
"""

from __future__ import annotations

import os

import ctk
import qt
import slicer
from slicer.i18n import tr as _

MODELS_KEY = "WeakSeg/ModelsFolder"
DEVICE_KEY = "WeakSeg/Device"
_STARTUP_MODELS = os.environ.get("WEAKSEG_MODELS")


def apply_models_folder(path: str) -> None:
    """Use ``path`` as the models folder from now on (empty: the default ``~/.weakseg/models``)."""
    if _STARTUP_MODELS:
        return  # set before Slicer started: the user's explicit choice
    if path:
        os.environ["WEAKSEG_MODELS"] = path
    else:
        os.environ.pop("WEAKSEG_MODELS", None)


def preferred_device() -> str:
    return str(qt.QSettings().value(DEVICE_KEY, "auto") or "auto")


class WeakSegSettingsPanel(ctk.ctkSettingsPanel):
    def __init__(self, *args, **kwargs):
        ctk.ctkSettingsPanel.__init__(self, *args, **kwargs)
        from WeakSegQt.segment_panel import device_choices

        form = qt.QFormLayout(self)
        self.modelsFolder = ctk.ctkPathLineEdit()
        self.modelsFolder.filters = ctk.ctkPathLineEdit.Dirs
        self.modelsFolder.toolTip = _("Where trained and imported models are kept (empty: ~/.weakseg/models)")
        form.addRow(_("Models folder:"), self.modelsFolder)
        self.device = qt.QComboBox()
        for key, text in device_choices():
            self.device.addItem(text, key)
        form.addRow(_("Preferred device:"), self.device)
        self.registerProperty(MODELS_KEY, self.modelsFolder, "currentPath", qt.SIGNAL("currentPathChanged(QString)"))
        self.registerProperty(DEVICE_KEY, self.device, "currentData", qt.SIGNAL("currentIndexChanged(int)"))
        self.modelsFolder.connect("currentPathChanged(QString)", apply_models_folder)


def register_settings() -> None:
    """At ``startupCompleted``: apply the saved models folder, and add the page unless Slicer runs without a window."""
    apply_models_folder(str(qt.QSettings().value(MODELS_KEY, "") or ""))
    if not slicer.app.commandOptions().noMainWindow:
        slicer.app.settingsDialog().addPanel(_("WeakSeg"), WeakSegSettingsPanel())
