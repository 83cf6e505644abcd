"""WeakSegOAR: organs at risk from any OAR model card, with RTSTRUCT export as the main output.

Same panel and Logic as WeakSegTumor (``WeakSegQt``); organs are coded as anatomical
structures and the export section is open by default. Until an organ-at-risk model is
installed the panel says so and offers "Import model" instead of a disabled Segment button.
"""

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

from WeakSegOARLib.logic import WeakSegOARLogic  # noqa: E402  (after the bootstrap)
from WeakSegQt.segment_panel import SegmentPanelWidget  # noqa: E402

__all__ = ["WeakSegOAR", "WeakSegOARWidget", "WeakSegOARLogic", "WeakSegOARTest"]

HELP_URL = "https://github.com/WeakSeg/SlicerWeakSeg#3d-slicer"


class WeakSegOAR(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("WeakSeg OAR")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["WeakSeg developers"]
        self.parent.helpText = _(
            "Segment organs at risk with an organ-at-risk model (import one in the Model section) and export them "
            "as an RT Structure Set that references the original image series.")
        self.parent.helpText += " " + _('See the <a href="{url}">documentation</a>.').format(url=HELP_URL)
        self.parent.acknowledgementText = _("Results must be reviewed by a qualified person before clinical use.")


class WeakSegOARWidget(SegmentPanelWidget):
    logic_class = WeakSegOARLogic
    export_first = True
    offers_demo = False


class WeakSegOARTest(ScriptedLoadableModuleTest):
    """Export flow on a synthetic MR series: a segmentation node becomes an RTSTRUCT referencing the series.

    No organ-at-risk model ships yet, so the test builds the organ segmentation from known
    masks and runs the real export worker. It skips, naming what is missing, when the export
    packages (scikit-image; on Slicer 5.10 also pydicom 3) are not installed.
    """

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_rtstruct_export()

    def test_rtstruct_export(self):
        import os

        from WeakSegQt.selftest import scratch_folder, skip_unless_installed

        skip_unless_installed(self, "export-rtstruct")
        import numpy as np
        import pydicom
        import SimpleITK as sitk

        from weakseg.rt.series import write_synthetic_series
        from weakseg_mrml.segmentation import SegmentSpec, segmentation_from_labelmap
        from weakseg_mrml.terminology import ORGAN_CATEGORY, Terminology
        from weakseg_mrml.volumes import add_volume_from_image

        root = scratch_folder(self, "WeakSegOARTest-")
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
        parotid = Terminology(ORGAN_CATEGORY, ("SCT", "45289007", "Parotid gland"))
        specs = [SegmentSpec("Parotid_L", 1, "Parotid_L", (0.2, 0.8, 0.9), parotid),
                 SegmentSpec("Parotid_R", 2, "Parotid_R", (0.2, 0.6, 0.8), parotid)]
        node = segmentation_from_labelmap(slicer.mrmlScene, labels, specs, name="organs", volume_node=volume)
        logic = WeakSegOARLogic()
        self.assertNotIn("tumour", {m.kind for m in logic.models()})  # the OAR panel never offers a tumour model
        out = logic.export(node, os.path.join(root, "series"), os.path.join(root, "rtstruct.dcm"), "rtstruct",
                           timeout=600)
        ds = pydicom.dcmread(out)
        self.assertEqual(ds.Modality, "RTSTRUCT")
        self.assertEqual([r.ROIName for r in ds.StructureSetROISequence], ["Parotid_L", "Parotid_R"])
        self.delayDisplay(_("Test passed"))
