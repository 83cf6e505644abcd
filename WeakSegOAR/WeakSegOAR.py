"""WeakSegOAR: organs at risk from an OAR model (the shipped ``default-oar`` or one trained from RT-Structs).

Same panel as WeakSegTumor (``WeakSegQt``) with its own inputs (T1c, or T1 when there is no
contrast scan: the model reads the first given), one segment per organ with its TG-263 name,
side, SNOMED CT code and colour, the RTSTRUCT export open as the main action, and an organ
review: each organ rated accepted / minor edit / major edit / rejected (the thesis's clinical
scale), saved with the scene and exportable as CSV.
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

    def setup(self) -> None:
        SegmentPanelWidget.setup(self)
        self._addReviewSection()

    def _addReviewSection(self) -> None:
        """Organ review: a table of organs with a rating each, and 'Export review (CSV)'."""
        import qt

        try:
            import ctk

            section = ctk.ctkCollapsibleButton()
            section.text = _("Organ review")
        except ImportError:  # the widget tests' stand-ins
            section = qt.QGroupBox(_("Organ review"))
        layout = qt.QVBoxLayout(section)
        self.reviewTable = qt.QTableWidget(0, 2)
        self.reviewTable.setHorizontalHeaderLabels([_("Organ"), _("Rating")])
        self.reviewTable.toolTip = _("Rate each organ as a radiotherapist would: accepted, minor edit, major edit, "
                                     "rejected. Saved with the scene.")
        layout.addWidget(self.reviewTable)
        self.reviewExportButton = qt.QPushButton(_("Export review (CSV)"))
        self.reviewExportButton.connect("clicked(bool)", self.onExportReview)
        layout.addWidget(self.reviewExportButton)
        self.layout.addWidget(section)
        self.reviewSection = section
        self.updateReview()

    def updateResultPanel(self, segmentationNode=None) -> None:
        SegmentPanelWidget.updateResultPanel(self, segmentationNode)
        if hasattr(self, "reviewTable"):
            self.updateReview()

    def _reviewNode(self):
        return self._parameterNode.outputSegmentation if self._parameterNode else None

    def updateReview(self) -> None:
        import qt

        node = self._reviewNode()
        rows = self.logic.review_rows(node) if node is not None else []
        self.reviewTable.setRowCount(len(rows))
        for index, row in enumerate(rows):
            self.reviewTable.setItem(index, 0, qt.QTableWidgetItem(row["organ"]))
            combo = qt.QComboBox()
            combo.addItem(_("not rated"), "")
            for rating in self.logic.review_scale:
                combo.addItem(_(rating), rating)
            combo.setCurrentIndex(max(combo.findData(row["rating"]), 0))
            combo.connect("currentIndexChanged(int)", lambda i, organ=row["organ"], box=combo: self.onRate(organ, box))
            self.reviewTable.setCellWidget(index, 1, combo)
        self.reviewExportButton.enabled = bool(rows)

    def onRate(self, organ: str, combo) -> None:
        node = self._reviewNode()
        if node is not None:
            self.logic.rate(node, organ, combo.itemData(combo.currentIndex) or None)

    def onExportReview(self) -> None:
        import qt

        node = self._reviewNode()
        if node is None:
            return
        path = qt.QFileDialog.getSaveFileName(None, _("Export organ review"), "organ-review.csv", "CSV (*.csv)")
        if path:
            with slicer.util.tryWithErrorDisplay(_("The review could not be written."), waitCursor=True):
                self.logic.export_review(node, path)


class WeakSegOARTest(ScriptedLoadableModuleTest):
    """Segment a phantom head with the shipped ``default-oar`` and export the organs as an RTSTRUCT; also the
    export of hand-made organ segments. Each test skips, naming what is missing, when the packages its
    worker job needs (torch for segmenting; scikit-image, pydicom 3 for export) are not installed.
    """

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_rtstruct_export()
        self.setUp()
        self.test_segment_phantom_head()

    def test_segment_phantom_head(self):
        import os

        from WeakSegQt.selftest import scratch_folder, skip_unless_installed

        skip_unless_installed(self, "segment", "export-rtstruct")
        import pydicom

        from weakseg.phantom.config import PhantomConfig
        from weakseg.phantom.head_oar import make_head_case
        from weakseg.rt.series import write_synthetic_series
        from weakseg_mrml.volumes import add_volume_from_image

        root = scratch_folder(self, "WeakSegOARTest-")
        head = make_head_case(PhantomConfig(seed=7, physiology=False))
        write_synthetic_series(head.images["t1"], os.path.join(root, "series"), "MR")
        volume = add_volume_from_image(slicer.mrmlScene, head.images["t1"], "T1 head")
        logic = WeakSegOARLogic()
        model = next((m for m in logic.models() if m.id == "default-oar"), None)
        if model is None:
            self.skipTest("the default-oar model is not installed")
        node = logic.segment({"t1": volume}, model, device="cpu", timeout=600)
        names = [node.GetSegmentation().GetNthSegment(i).GetName()
                 for i in range(node.GetSegmentation().GetNumberOfSegments())]
        self.assertIn("Brainstem", names)
        self.assertIn("Eye_L", names)
        logic.rate(node, "Brainstem", "accepted")
        logic.export_review(node, os.path.join(root, "review.csv"))
        out = logic.export(node, os.path.join(root, "series"), os.path.join(root, "rtstruct.dcm"), "rtstruct",
                           timeout=600)
        self.assertEqual(pydicom.dcmread(out).Modality, "RTSTRUCT")
        self.delayDisplay(_("Test passed"))

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
