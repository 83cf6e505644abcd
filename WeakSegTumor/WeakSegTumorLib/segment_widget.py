"""The Segment panel shared by WeakSegTumor and WeakSegOAR: thin, .ui-based, state in a parameter node.

Every button calls one Logic method with plain arguments; the widget only reads the
parameter node, starts runs and shows their results.
"""

from __future__ import annotations

import pathlib
from typing import Annotated

import qt
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from WeakSegTumorLib.qt_run import RunController, ensure_dependencies
from weakseg import SEQUENCES


@parameterNodeWrapper
class SegmentParameterNode:
    """Panel state, saved with the scene."""

    t1: vtkMRMLScalarVolumeNode
    t1c: vtkMRMLScalarVolumeNode
    t2: vtkMRMLScalarVolumeNode
    flair: vtkMRMLScalarVolumeNode
    modelFolder: str = ""
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"
    tta: bool = False
    result: vtkMRMLSegmentationNode
    referenceSeries: pathlib.Path
    exportFile: pathlib.Path


class SegmentPanelWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Subclasses set ``logic_class``."""

    logic_class = None

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath(f"UI/{self.moduleName}.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = self.logic_class()
        self.runs = RunController(self.ui.progressBar, self.ui.statusLabel, self.ui.cancelButton,
                                  self.ui.copyDiagnosticsButton, on_finished=self._checkCanApply)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.autoAssignButton.connect("clicked(bool)", self.onAutoAssign)
        self.ui.applyButton.connect("clicked(bool)", self.onSegment)
        self.ui.modelComboBox.connect("currentIndexChanged(int)", self.onModelChanged)
        self.ui.lowConfidenceList.connect("itemClicked(QListWidgetItem*)", self.onLowConfidenceClicked)
        self.ui.editButton.connect("clicked(bool)", self.onEdit)
        self.ui.exportRtstructButton.connect("clicked(bool)", lambda: self.onExport("rtstruct"))
        self.ui.exportSegButton.connect("clicked(bool)", lambda: self.onExport("seg"))
        self.ui.resultSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateResultPanel)
        self.refreshModels()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.runs.cleanup()
        self.removeObservers()

    def enter(self) -> None:
        self.refreshModels()  # a model trained meanwhile is selectable at once
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)

    def onSceneStartClose(self, caller, event) -> None:
        self.runs.cleanup()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(SegmentParameterNode(self.logic.getParameterNode()))
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
            self._selectModel(self._parameterNode.modelFolder)
            self._checkCanApply()

    # ------------------------------------------------------------------ state

    def refreshModels(self) -> None:
        combo = self.ui.modelComboBox
        current = combo.currentData
        combo.blockSignals(True)
        combo.clear()
        for entry in self.logic.models():
            combo.addItem(entry.title(), str(entry.folder))
            combo.setItemData(combo.count - 1, entry.description or entry.licence, qt.Qt.ToolTipRole)
        combo.blockSignals(False)
        self._selectModel(current)

    def _selectModel(self, folder) -> None:
        combo = self.ui.modelComboBox
        index = combo.findData(folder) if folder else -1
        combo.setCurrentIndex(index if index >= 0 else (0 if combo.count else -1))
        self.onModelChanged(combo.currentIndex)  # keep the parameter in step even when the index did not change

    def onModelChanged(self, index) -> None:
        folder = self.ui.modelComboBox.currentData or ""
        if self._parameterNode and self._parameterNode.modelFolder != folder:
            self._parameterNode.modelFolder = folder

    def _inputs(self) -> dict:
        return {name: getattr(self._parameterNode, name) for name in SEQUENCES if getattr(self._parameterNode, name)}

    def _checkCanApply(self, caller=None, event=None) -> None:
        node = self._parameterNode
        ready = bool(node and node.modelFolder and self._inputs()) and not self.runs.busy
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Run the model in the background") if ready else \
            _("Assign the input sequences and pick a model")
        has_result = bool(node and node.result)
        self.ui.exportRtstructButton.enabled = has_result and not self.runs.busy
        self.ui.exportSegButton.enabled = has_result and not self.runs.busy

    # ------------------------------------------------------------------ actions

    def onAutoAssign(self) -> None:
        if not self._parameterNode:
            return
        for name, node in self.logic.auto_assign().items():
            setattr(self._parameterNode, name, node)

    def onSegment(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Segment could not start."), waitCursor=True):
            if not ensure_dependencies():
                return
            node = self._parameterNode
            run = self.logic.start_segment(self._inputs(), node.modelFolder, device=node.device, tta=node.tta)
            self.runs.start(run, _("Segment"), self.onSegmentDone)
            self._checkCanApply()

    def onSegmentDone(self, segmentationNode) -> None:
        self._parameterNode.result = segmentationNode
        self.updateResultPanel(segmentationNode)
        self._checkCanApply()

    def updateResultPanel(self, segmentationNode=None) -> None:
        self.ui.lowConfidenceList.clear()
        if segmentationNode is None:
            return
        for item in self.logic.low_confidence_slices(segmentationNode):
            probabilities = ", ".join(f"{name} {p:.2f}" for name, p in item["p"].items())
            text = _("slice {index} (S {z:.1f} mm): {classes}").format(index=item["slice"], z=item["z_mm"],
                                                                       classes=probabilities)
            widget_item = qt.QListWidgetItem(text)
            widget_item.setData(qt.Qt.UserRole, item["z_mm"])
            self.ui.lowConfidenceList.addItem(widget_item)

    def onLowConfidenceClicked(self, widgetItem) -> None:
        node = self._parameterNode.result
        point = self.logic.slice_point(node, {"z_mm": widgetItem.data(qt.Qt.UserRole)})
        slicer.modules.markups.logic().JumpSlicesToLocation(*point, True)

    def onEdit(self) -> None:
        node = self._parameterNode.result
        if node is None:
            return
        slicer.util.selectModule("SegmentEditor")
        editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
        editor.setSegmentationNode(node)
        role = node.GetReferenceImageGeometryReferenceRole()
        if node.GetNodeReference(role):
            editor.setSourceVolumeNode(node.GetNodeReference(role))

    def onExport(self, kind: str) -> None:
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Export could not start."), waitCursor=True):
            if not _is_set(node.referenceSeries) or not _is_set(node.exportFile):
                raise ValueError(_("Choose the reference DICOM series folder and the output file first."))
            run = self.logic.start_export(node.result, node.referenceSeries, node.exportFile, kind)
            self.runs.start(run, _("Export {kind}").format(kind=kind.upper()), self.onExportDone)

    def onExportDone(self, path) -> None:
        slicer.util.infoDisplay(_("Written: {path}").format(path=str(path)))
        self._checkCanApply()


def _is_set(path) -> bool:
    """A path parameter the user filled in (an unset pathlib.Path reads as '.')."""
    return path is not None and str(path) not in ("", ".")
