"""The Segment panel shared by WeakSegTumor and WeakSegOAR: thin, .ui-based, state in a parameter node.

Every button calls one Logic method with plain arguments; the widget only reads the
parameter node, starts runs and shows their results. One ``.ui`` (``Resources/UI/SegmentPanel.ui``
beside this package) serves both modules; a subclass sets ``logic_class`` and ``texts``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import qt
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from WeakSegQt.dependencies import ensure_dependencies
from WeakSegQt.models import ModelSection
from WeakSegQt.runs import RunController
from weakseg import SEQUENCES
from weakseg_mrml.segment_logic import family_fallback, missing_inputs, model_inputs

UI_FILE = os.path.join(os.path.dirname(__file__), "Resources", "UI", "SegmentPanel.ui")


@parameterNodeWrapper
class SegmentParameterNode:
    """Panel state, saved with the scene (no file paths: the export reference comes from the DICOM database)."""

    t1: vtkMRMLScalarVolumeNode
    t1c: vtkMRMLScalarVolumeNode
    t2: vtkMRMLScalarVolumeNode
    flair: vtkMRMLScalarVolumeNode
    modelFolder: str = ""
    device: str = "auto"
    tta: bool = False
    preprocess: bool = True  # the engine's --preprocess auto (off: none, unfit images are refused)
    outputSegmentation: vtkMRMLSegmentationNode


def device_choices():
    """(key, words) for the device combos; Apple's GPU only where it can exist."""
    choices = [("auto", _("Automatic (GPU when available)")), ("cpu", _("CPU")), ("cuda", _("GPU (CUDA)"))]
    if sys.platform == "darwin":
        choices.append(("mps", _("GPU (Apple MPS)")))
    return choices


def flagged_choices():
    """(key, words) for what the export does with the slices the model flagged; the first is the default."""
    return [("mark", _("Keep, mark the series \"needs review\"")), ("drop", _("Leave them out")),
            ("keep", _("Keep, unmarked"))]


class SegmentPanelWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Subclasses set ``logic_class``; ``export_first`` opens the export section (OAR); ``offers_demo`` shows
    "Load demo case" (a brain-tumour phantom: tumour models only)."""

    logic_class = None
    export_first = False
    offers_demo = True

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(UI_FILE)
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = self.logic_class()
        self.runs = RunController(self.ui, on_finished=self._checkCanApply)
        self.models = ModelSection(self.ui, self.logic, on_changed=self.onModelChanged)
        for key, text in device_choices():
            self.ui.deviceComboBox.addItem(text, key)
        self.ui.exportCollapsibleButton.collapsed = not self.export_first
        self.ui.demoCaseButton.setVisible(self.offers_demo)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.autoAssignButton.connect("clicked(bool)", self.onAutoAssign)
        self.ui.demoCaseButton.connect("clicked(bool)", self.onDemoCase)
        self.ui.applyButton.connect("clicked(bool)", self.onSegment)
        self.ui.deviceComboBox.connect("currentIndexChanged(int)", self.onDeviceChanged)
        self.ui.lowConfidenceList.connect("itemClicked(QListWidgetItem*)", self.onLowConfidenceClicked)
        self.ui.editButton.connect("clicked(bool)", self.onEdit)
        for key, words in flagged_choices():
            self.ui.flaggedComboBox.addItem(words, key)
        self.ui.exportRtstructButton.connect("clicked(bool)", lambda: self.onExport("rtstruct"))
        self.ui.exportSegButton.connect("clicked(bool)", lambda: self.onExport("seg"))
        self.ui.outputSegmentationSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateResultPanel)
        self.models.refresh()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.runs.cleanup()
        self.removeObservers()

    def enter(self) -> None:
        self.models.refresh()  # a model trained or imported meanwhile is selectable at once
        self.models.show_devices()
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)

    def onReload(self) -> None:
        from WeakSegQt import reload_packages

        reload_packages()
        ScriptedLoadableModuleWidget.onReload(self)

    def onSceneStartClose(self, caller, event) -> None:
        self.runs.scene_closing()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        node = self.logic.getParameterNode()
        fresh = node is not None and not node.GetParameterNames()  # a new scene: start from the user's settings
        self.setParameterNode(SegmentParameterNode(node))
        if fresh:
            from WeakSegQt.settings import preferred_device

            self._parameterNode.device = preferred_device()
        if not any(getattr(self._parameterNode, s) for s in SEQUENCES):
            self.onAutoAssign()

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self.models.select(self._parameterNode.modelFolder)
            index = self.ui.deviceComboBox.findData(self._parameterNode.device)
            self.ui.deviceComboBox.setCurrentIndex(max(index, 0))
            self._checkCanApply()

    # ------------------------------------------------------------------ state

    def onModelChanged(self, entry) -> None:
        folder = str(entry.folder) if entry is not None else ""
        if self._parameterNode and self._parameterNode.modelFolder != folder:
            self._parameterNode.modelFolder = folder
            if entry is not None:  # a newly chosen model starts with its card's TTA setting
                self._parameterNode.tta = entry.tta
        used = set(sum(model_inputs(entry), [])) if entry is not None else set()
        for name in SEQUENCES:  # only the sequences the model reads are asked for
            visible = entry is None or name in used
            getattr(self.ui, f"{name}Selector").setVisible(visible)
            getattr(self.ui, f"{name}SelectorLabel").setVisible(visible)
        self._checkCanApply()

    def onDeviceChanged(self, index) -> None:
        key = self.ui.deviceComboBox.itemData(index)
        if self._parameterNode and key and self._parameterNode.device != key:
            self._parameterNode.device = key

    def _inputs(self) -> dict:
        return {name: getattr(self._parameterNode, name) for name in SEQUENCES if getattr(self._parameterNode, name)}

    def _checkCanApply(self, caller=None, event=None) -> None:
        node = self._parameterNode
        entry = self.models.current()
        missing = missing_inputs(self._inputs() if node else {}, entry) if entry else []
        busy = self.runs.busy
        ready = bool(node and entry and not missing) and not busy
        self.ui.applyButton.enabled = ready
        if entry is None:
            tip = _("No model is installed: import one in the Model section")
        elif missing:
            names = ", ".join(missing) if model_inputs(entry)[0] else _(" or ").join(missing)
            tip = _("Choose a volume for: {names}").format(names=names)
        elif busy:
            tip = _("A job is running")
        else:
            tip = _("Segment in the background; Slicer stays usable")
        self.ui.applyButton.toolTip = tip
        fallback = family_fallback(self._inputs(), entry)[1] if node and entry else None
        self.ui.fallbackLabel.text = fallback or ""  # said before Segment, and again in the result's warnings
        self.ui.fallbackLabel.setVisible(bool(fallback))
        result = node.outputSegmentation if node else None
        has_result = result is not None and result.GetSegmentation().GetNumberOfSegments() > 0
        for button in (self.ui.exportRtstructButton, self.ui.exportSegButton, self.ui.editButton):
            button.enabled = has_result and not busy
        self.ui.show3DButton.setSegmentationNode(result)
        flagged = bool(has_result and self.logic.flagged_slices(result))
        self.ui.flaggedComboBox.setVisible(flagged)  # asked only when the model flagged slices
        self.ui.flaggedComboBoxLabel.setVisible(flagged)
        self.ui.reviewCollapsibleButton.setVisible(bool(result is not None and self.logic.low_confidence_slices(result)))

    # ------------------------------------------------------------------ actions

    def onAutoAssign(self) -> None:
        if not self._parameterNode:
            return
        for name, node in self.logic.auto_assign().items():
            setattr(self._parameterNode, name, node)

    def onDemoCase(self) -> None:
        from weakseg_mrml.demo import load_demo_case

        with slicer.util.tryWithErrorDisplay(_("The demo case could not be created."), waitCursor=True):
            volumes = load_demo_case(slicer.mrmlScene, slicer.util.tempDirectory("WeakSeg-demo"))
            slicer.util.setSliceViewerLayers(background=volumes["flair"], fit=True)
            self.onAutoAssign()
            self.runs.append_log(_("Demo case loaded: a synthetic tumour phantom (not patient data)."))

    def onSegment(self) -> None:
        if not ensure_dependencies("segment", _("Segment")):  # asked before any wait cursor
            return
        with slicer.util.tryWithErrorDisplay(_("Segment could not start."), waitCursor=True):
            node = self._parameterNode
            run = self.logic.start_segment(self._inputs(), node.modelFolder, device=node.device, tta=node.tta,
                                           preprocess="auto" if node.preprocess else "none",
                                           work_dir=slicer.app.temporaryPath,  # removed after import
                                           output_node=node.outputSegmentation)
            self.runs.start(run, _("Segment"), self.onSegmentDone)
            self._checkCanApply()

    def onSegmentDone(self, segmentationNode) -> None:
        self._parameterNode.outputSegmentation = segmentationNode
        from weakseg_mrml.provenance import read_provenance

        provenance = read_provenance(segmentationNode)
        if provenance is not None and provenance.device:
            self.runs.append_log(_("Computed on: {device}").format(device=provenance.device))
        for warning in self.logic.result_warnings(segmentationNode):
            self.runs.append_log(_("Note: {message}").format(message=warning))
        brainMask = self.logic.brain_mask(segmentationNode)
        if brainMask is not None:
            self.runs.append_log(_("The brain mask the model was shown is outlined as '{name}'.").format(
                name=brainMask.GetName()))
        if self.ui.autoShow3DCheckBox.checked:
            segmentationNode.CreateClosedSurfaceRepresentation()
        self.updateResultPanel(segmentationNode)
        self._checkCanApply()

    def updateResultPanel(self, segmentationNode=None) -> None:
        self.ui.lowConfidenceList.clear()
        self._checkCanApply()
        if segmentationNode is None:
            return
        for item in self.logic.low_confidence_slices(segmentationNode):
            if item.get("flagged"):  # listed first by the worker: the method itself distrusts these slices
                text = _("Slice {index} (S {z} mm): review this, difference score {d}").format(
                    index=item["slice"], z=f"{item['z_mm']:.1f}", d=f"{item['difference_score']:.2f}")
            else:
                probabilities = ", ".join(f"{name} {p:.2f}" for name, p in item["p"].items())
                text = _("Slice {index} (S {z} mm): {classes}").format(index=item["slice"], z=f"{item['z_mm']:.1f}",
                                                                       classes=probabilities)
            widget_item = qt.QListWidgetItem(text)
            widget_item.setData(qt.Qt.UserRole, item["z_mm"])
            widget_item.setToolTip(text)
            self.ui.lowConfidenceList.addItem(widget_item)

    def onLowConfidenceClicked(self, widgetItem) -> None:
        node = self._parameterNode.outputSegmentation
        point = self.logic.slice_point(node, {"z_mm": widgetItem.data(qt.Qt.UserRole)})
        slicer.modules.markups.logic().JumpSlicesToLocation(*point, True)

    def onEdit(self) -> None:
        node = self._parameterNode.outputSegmentation
        if node is None:
            return
        slicer.util.selectModule("SegmentEditor")
        editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
        editor.setSegmentationNode(node)
        role = node.GetReferenceImageGeometryReferenceRole()
        if node.GetNodeReference(role):
            editor.setSourceVolumeNode(node.GetNodeReference(role))

    # ------------------------------------------------------------------ export

    def _reference_files(self, node) -> list[str]:
        database = getattr(slicer, "dicomDatabase", None)
        uids = self.logic.reference_instance_uids(node)
        if not uids or database is None:
            return []
        files = [database.fileForInstance(uid) for uid in uids]
        return [f for f in files if f]

    def onExport(self, kind: str, node=None) -> None:
        """Export ``node`` (default: the result) against the DICOM series its reference volume was loaded from."""
        title = _("Export RTSTRUCT") if kind == "rtstruct" else _("Export DICOM SEG")
        node = node or self._parameterNode.outputSegmentation
        files = self._reference_files(node)
        if not files:
            slicer.util.errorDisplay(_("The segmentation's reference volume was not loaded from the DICOM database, "
                                       "so there is no series to reference. Import the images with the DICOM module "
                                       "and segment again."))
            return
        if not ensure_dependencies(f"export-{kind}", title):
            return
        with slicer.util.tryWithErrorDisplay(_("Export could not start."), waitCursor=True):
            work = Path(slicer.util.tempDirectory("WeakSeg-export"))
            reference = self.logic.reference_folder(files, work)
            name = "RTSTRUCT.dcm" if kind == "rtstruct" else "SEG.dcm"
            flagged = self.ui.flaggedComboBox.currentData if self.logic.flagged_slices(node) else "keep"
            run = self.logic.start_export(node, reference, work / "out" / name, kind, work_dir=work,
                                          flagged=flagged or "mark")
            self.runs.start(run, title, self.onExportDone, on_end=lambda: shutil.rmtree(work, ignore_errors=True))

    def onExportDone(self, path) -> None:
        """Import the written object into the DICOM database (a copy: the temporary folder is removed next)."""
        from DICOMLib import DICOMUtils

        DICOMUtils.importDicom(str(Path(path).parent), copyFiles=True)
        self.runs.append_log(_("Added to the DICOM database, under the patient of the reference series."))
        slicer.util.showStatusMessage(_("Export added to the DICOM database"), 5000)
        self._checkCanApply()
