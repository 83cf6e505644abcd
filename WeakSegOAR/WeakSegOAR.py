"""WeakSegOAR: organs at risk from any OAR model card, with RTSTRUCT export as the main output.

Same flow as WeakSegTumor (shared panel and Logic); organs are coded as anatomical
structures and the export section is open by default.
"""

import os
import tempfile

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleTest

from WeakSegOARLib.logic import WeakSegOARLogic
from WeakSegTumorLib.segment_widget import SegmentPanelWidget

__all__ = ["WeakSegOAR", "WeakSegOARWidget", "WeakSegOARLogic", "WeakSegOARTest"]


class WeakSegOAR(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("WeakSeg OAR")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "WeakSeg")]
        self.parent.dependencies = ["WeakSegTumor"]  # shares its panel code
        self.parent.contributors = ["WeakSeg developers"]
        self.parent.helpText = _(
            "Segment organs at risk with any organ-at-risk model from the registry and export them as an RT "
            "Structure Set that references the original image series.")
        self.parent.helpText += self.getDefaultModuleDocumentationLink()
        self.parent.acknowledgementText = _("Results must be reviewed by a qualified person before clinical use.")


class WeakSegOARWidget(SegmentPanelWidget):
    logic_class = WeakSegOARLogic


class WeakSegOARTest(ScriptedLoadableModuleTest):
    """Export flow on a synthetic MR series: a segmentation node becomes an RTSTRUCT referencing the series.

    Organ-at-risk models are a later issue, so the test builds the organ segmentation from
    known masks and runs the real export worker; it also checks that the OAR panel offers
    only OAR model cards.
    """

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_rtstruct_export()

    def test_rtstruct_export(self):
        import numpy as np
        import pydicom
        import SimpleITK as sitk

        from weakseg.rt.series import write_synthetic_series
        from weakseg_mrml.segmentation import SegmentSpec, segmentation_from_labelmap
        from weakseg_mrml.terminology import Terminology
        from weakseg_mrml.volumes import add_volume_from_image

        root = tempfile.mkdtemp(prefix="WeakSegOARTest-")
        grid = sitk.Image([48, 40, 16], sitk.sitkInt16)
        grid.SetSpacing((1.0, 1.0, 2.5))
        array = np.zeros((16, 40, 48), np.uint8)
        array[4:12, 10:30, 8:20] = 1
        array[4:12, 10:30, 28:40] = 2
        labels = sitk.GetImageFromArray(array)
        labels.CopyInformation(grid)
        image = sitk.GetImageFromArray((array * 200 + 100).astype(np.int16))
        image.CopyInformation(grid)
        write_synthetic_series(image, os.path.join(root, "series"), "MR")
        volume = add_volume_from_image(slicer.mrmlScene, image, "t1")
        specs = [SegmentSpec("Parotid_L", 1, "Parotid_L", (0.2, 0.8, 0.9),
                             Terminology(("SCT", "91723000", "Anatomical Structure"), ("SCT", "45289007", "Parotid gland"))),
                 SegmentSpec("Parotid_R", 2, "Parotid_R", (0.2, 0.6, 0.8),
                             Terminology(("SCT", "91723000", "Anatomical Structure"), ("SCT", "45289007", "Parotid gland")))]
        node = segmentation_from_labelmap(slicer.mrmlScene, labels, specs, name="organs", volume_node=volume)
        logic = WeakSegOARLogic()
        self.assertTrue(all(m.kind == "oar" for m in logic.models()))
        out = logic.export(node, os.path.join(root, "series"), os.path.join(root, "rtstruct.dcm"), "rtstruct", timeout=600)
        ds = pydicom.dcmread(out)
        self.assertEqual(ds.Modality, "RTSTRUCT")
        self.assertEqual([r.ROIName for r in ds.StructureSetROISequence], ["Parotid_L", "Parotid_R"])
        self.delayDisplay(_("Test passed"))
