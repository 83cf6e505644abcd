"""WeakSegTumor: brain-tumour segmentation from the loaded MRI sequences, with review and DICOM export.

The panel is thin: the Logic (``WeakSegTumorLib/logic.py``, no Qt) does everything a button
does, through the ``weakseg`` engine in a worker process, so Slicer stays responsive and a
job can be cancelled.
"""

import logging
import os
import tempfile

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleTest

from WeakSegTumorLib.logic import WeakSegTumorLogic
from WeakSegTumorLib.segment_widget import SegmentPanelWidget

__all__ = ["WeakSegTumor", "WeakSegTumorWidget", "WeakSegTumorLogic", "WeakSegTumorTest"]


class WeakSegTumor(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("WeakSeg Tumor")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "WeakSeg")]
        self.parent.dependencies = []
        self.parent.contributors = ["WeakSeg developers"]
        self.parent.helpText = _(
            "Segment a brain tumour (necrosis/non-enhancing core, edema, enhancing tumour) from T1, T1 contrast, "
            "T2 and FLAIR. Sequences are assigned from volume names and series descriptions; the result is a "
            "segmentation ready for the Segment Editor, with the slices to review first, and exports as "
            "RTSTRUCT or DICOM SEG referencing the original series.")
        self.parent.helpText += self.getDefaultModuleDocumentationLink()
        self.parent.acknowledgementText = _(
            "Models trained on BraTS data are for research use only, not for clinical decisions.")


class WeakSegTumorWidget(SegmentPanelWidget):
    logic_class = WeakSegTumorLogic


class WeakSegTumorTest(ScriptedLoadableModuleTest):
    """The real flow on a small synthetic case: train a tiny model, Segment, check the node, export.

    Run with ``Slicer --testing`` (CTest ``py_WeakSegTumor``); needs torch (PyTorch extension).
    """

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_segment_synthetic_case()

    def test_segment_synthetic_case(self):
        import json

        from WeakSegTrainLib.logic import WeakSegTrainLogic
        from weakseg.io.image import read_image
        from weakseg_mrml.demo import TINY_MIXED_OPTIONS, TINY_RUN, write_demo_cases
        from weakseg_mrml.provenance import read_provenance
        from weakseg_mrml.volumes import add_volume_from_image

        self.delayDisplay(_("Writing synthetic cases"))
        root = tempfile.mkdtemp(prefix="WeakSegTumorTest-")
        os.environ["WEAKSEG_MODELS"] = os.path.join(root, "models")
        folders = write_demo_cases(os.path.join(root, "cases"))
        self.delayDisplay(_("Training a tiny model in the background"))
        train = WeakSegTrainLogic()
        config = train.training_config(train.scan_cases(os.path.join(root, "cases")), model_id="selftest-tiny",
                                       out=os.path.join(root, "run"), options=TINY_MIXED_OPTIONS, **TINY_RUN)
        model = train.train(config, timeout=600)

        for path in sorted(folders[0].glob("*.nii.gz")):
            if not path.name.endswith("_seg.nii.gz"):
                add_volume_from_image(slicer.mrmlScene, read_image(path), path.name.split(".")[0])
        logic = WeakSegTumorLogic()
        inputs = logic.auto_assign()
        self.assertEqual(sorted(inputs), ["flair", "t1", "t1c", "t2"])
        self.delayDisplay(_("Segmenting"))
        node = logic.segment(inputs, model, device="cpu", timeout=600)
        self.assertEqual(node.GetSegmentation().GetNumberOfSegments(), 3)
        self.assertEqual(read_provenance(node).model_id, "selftest-tiny")
        self.assertIs(node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole()), inputs["flair"])
        written = read_image(json.loads(node.GetAttribute("WeakSeg.Outputs"))["labels"])
        self.assertEqual(written.GetSize(), read_image(next(folders[0].glob("*_flair.nii.gz"))).GetSize())
        for item in logic.low_confidence_slices(node):
            self.assertTrue(all(0.25 <= p <= 0.75 for p in item["p"].values()))
        logging.info("WeakSegTumor self-test passed")
        self.delayDisplay(_("Test passed"))
