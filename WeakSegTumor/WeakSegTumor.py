"""WeakSegTumor: brain-tumour segmentation from the loaded MRI sequences, with review and DICOM export.

The panel is thin: the Logic (``WeakSegTumorLib/logic.py``, no Qt) does everything a button
does, through the ``weakseg`` engine in a worker process, so Slicer stays responsive and a
job can be cancelled. The panel itself is shared with WeakSeg OAR (``WeakSegQt``).
"""

import logging

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleTest


def _find_checkout_packages():
    """Developer install (README): Slicer puts only the module folders on sys.path; add the checkout root
    that holds weakseg, weakseg_mrml and WeakSegQt. An installed extension has them beside this file."""
    import importlib.util
    import os
    import sys

    if importlib.util.find_spec("WeakSegQt") is None or importlib.util.find_spec("weakseg") is None:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


_find_checkout_packages()

from WeakSegQt.segment_panel import SegmentPanelWidget  # noqa: E402  (after the bootstrap)
from WeakSegTumorLib.logic import WeakSegTumorLogic  # noqa: E402

__all__ = ["WeakSegTumor", "WeakSegTumorWidget", "WeakSegTumorLogic", "WeakSegTumorTest"]

HELP_URL = "https://github.com/WeakSeg/SlicerWeakSeg#3d-slicer"


class WeakSegTumor(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("WeakSeg Tumor")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["WeakSeg developers"]
        self.parent.helpText = _(
            "Segment a brain tumour (necrosis/non-enhancing core, edema, enhancing tumour) from T1, T1 contrast, "
            "T2 and FLAIR. Sequences are assigned from volume names and series descriptions; the result is a "
            "segmentation ready for the Segment Editor, with the slices to review first, and exports as "
            "RTSTRUCT or DICOM SEG referencing the original series. The Infiltration section (EMReDL, paper 000) "
            "splits the FLAIR abnormality into infiltrated tumour and oedema from an enhancing-core mask, a FLAIR "
            "mask and physiological maps (research use).")
        self.parent.helpText += " " + _('See the <a href="{url}">documentation</a>.').format(url=HELP_URL)
        self.parent.acknowledgementText = _(
            "Models trained on BraTS data are for research use only, not for clinical decisions.")
        slicer.app.connect("startupCompleted()", _register_settings)


def _register_settings():
    from WeakSegQt.settings import register_settings

    register_settings()


class WeakSegTumorWidget(SegmentPanelWidget):
    """The Segment panel plus the infiltration section (paper 000: core / infiltrated tumour from two masks)."""

    logic_class = WeakSegTumorLogic

    infiltration = None

    def setup(self) -> None:
        SegmentPanelWidget.setup(self)
        import importlib.util

        if importlib.util.find_spec("ctk") is None:  # CTK widgets exist in Slicer; the PyQt test harness has none
            logging.info("WeakSeg Tumor: CTK not available, infiltration section not shown")
            return
        from WeakSegQt.infiltration_panel import InfiltrationSection
        from weakseg_mrml.infiltration import InfiltrationLogic

        self.infiltration = InfiltrationSection(
            self.layout, InfiltrationLogic(), device_getter=lambda: self.ui.deviceComboBox.currentData or "auto",
            export=lambda node: self.onExport("rtstruct", node))
        self.layout.addStretch(1)

    def enter(self) -> None:
        SegmentPanelWidget.enter(self)
        if self.infiltration is not None:
            self.infiltration.refresh()


class WeakSegTumorTest(ScriptedLoadableModuleTest):
    """The real flow on a small synthetic case: train a tiny model, Segment, check the node.

    Run with ``Slicer --testing`` (CTest ``py_WeakSegTumor``); skips, naming what is missing,
    when torch and the other engine packages are not installed in Slicer's Python.
    """

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_segment_synthetic_case()

    def test_segment_synthetic_case(self):
        import os

        from WeakSegQt.selftest import scratch_folder, skip_unless_installed

        skip_unless_installed(self, "train", "segment")
        from WeakSegTrainLib.logic import WeakSegTrainLogic
        from weakseg.io.image import read_image
        from weakseg.io.case import load_case
        from weakseg_mrml.demo import TINY_MIXED_OPTIONS, TINY_RUN, write_demo_cases
        from weakseg_mrml.provenance import read_provenance
        from weakseg_mrml.volumes import add_volume_from_image

        root = scratch_folder(self, "WeakSegTumorTest-")
        self.delayDisplay(_("Writing synthetic cases"))
        folders = write_demo_cases(os.path.join(root, "cases"))
        self.delayDisplay(_("Training a tiny model in the background"))
        train = WeakSegTrainLogic()
        config = train.training_config(train.scan_cases(os.path.join(root, "cases")), model_id="selftest-tiny",
                                       out=os.path.join(root, "run"), options=TINY_MIXED_OPTIONS, **TINY_RUN)
        model = train.train(config, timeout=600)

        case = load_case(folders[0])
        for name, image in case.images.items():
            add_volume_from_image(slicer.mrmlScene, image, f"{case.case_id}_{'t1ce' if name == 't1c' else name}")
        logic = WeakSegTumorLogic()
        inputs = logic.auto_assign()
        self.assertEqual(sorted(inputs), ["flair", "t1", "t1c", "t2"])
        self.delayDisplay(_("Segmenting"))
        node = logic.segment(inputs, model, device="cpu", timeout=600, work_dir=root,
                             keep_outputs=os.path.join(root, "out"))
        self.assertEqual(node.GetSegmentation().GetNumberOfSegments(), 3)
        self.assertEqual(read_provenance(node).model_id, "selftest-tiny")
        self.assertIs(node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole()), inputs["flair"])
        written = read_image(next(p for p in os.scandir(os.path.join(root, "out")) if p.name.endswith("_labels.nii.gz")).path)
        self.assertEqual(written.GetSize(), case.images["flair"].GetSize())
        for item in logic.low_confidence_slices(node):
            self.assertTrue(all(0.25 <= p <= 0.75 for p in item["p"].values()))
        logging.info("WeakSegTumor self-test passed")
        self.delayDisplay(_("Test passed"))
