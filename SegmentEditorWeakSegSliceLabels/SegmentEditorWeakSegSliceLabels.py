"""SegmentEditorWeakSegSliceLabels: registers the "WeakSeg slice labels" Segment Editor effect (hidden module).

Slicer's scripted-effect template: a hidden module that, once Slicer has started, creates a
``qSlicerSegmentEditorScriptedEffect`` from ``SegmentEditorWeakSegSliceLabelsLib/SegmentEditorEffect.py``
and registers it, so the effect appears in every Segment Editor (the Segment Editor module,
WeakSeg Train's embedded editor).
"""

import os

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import ScriptedLoadableModule


def _find_checkout_packages():
    """Developer install (README): Slicer puts only the module folders on sys.path; add the checkout root
    that holds weakseg, weakseg_mrml and WeakSegQt. An installed extension has them beside this file."""
    import importlib.util
    import os
    import sys

    if importlib.util.find_spec("WeakSegQt") is None or importlib.util.find_spec("weakseg") is None:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


_find_checkout_packages()


class SegmentEditorWeakSegSliceLabels(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("WeakSeg slice labels effect")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = ["Segmentations"]
        self.parent.contributors = ["WeakSeg developers"]
        self.parent.hidden = True
        self.parent.helpText = _("Registers the WeakSeg slice labels effect of the Segment Editor.")
        self.parent.acknowledgementText = ""
        slicer.app.connect("startupCompleted()", self.registerEditorEffect)

    def registerEditorEffect(self):
        import qSlicerSegmentationsEditorEffectsPythonQt as effects

        instance = effects.qSlicerSegmentEditorScriptedEffect(None)
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "SegmentEditorWeakSegSliceLabelsLib",
                            "SegmentEditorEffect.py")
        instance.setPythonSource(path.replace("\\", "/"))
        instance.self().register()
