"""WeakSegTrain: weak labels (slice labels, scribbles) per case, saved to the weak-label store, and training.

Thin panel over ``WeakSegTrainLib/logic.py`` (no Qt). Slice labels are given with the
"WeakSeg slice labels" Segment Editor effect in any view (its keys work only while it is
active); scribbles are painted with Paint/Draw into tagged foreground/background segments,
overwrite off. Training runs in a worker with progress, time left, curves, cancel and resume,
and keeps running when the scene is closed. The finished model is registered and at once
selectable in WeakSeg Tumor / WeakSeg OAR.
"""

import time
from typing import Annotated

import qt
import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin


def _find_checkout_packages():
    """Developer install (README): Slicer puts only the module folders on sys.path; add the checkout root
    that holds weakseg, weakseg_mrml and WeakSegQt. An installed extension has them beside this file."""
    import importlib.util
    import os
    import sys

    if importlib.util.find_spec("WeakSegQt") is None or importlib.util.find_spec("weakseg") is None:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


_find_checkout_packages()

from WeakSegQt.dependencies import ensure_dependencies  # noqa: E402  (after the bootstrap)
from WeakSegQt.models import device_text  # noqa: E402
from WeakSegQt.runs import RunController  # noqa: E402
from WeakSegQt.segment_panel import device_choices  # noqa: E402
from WeakSegTrainLib.logic import WeakSegTrainLogic, training_methods  # noqa: E402
from WeakSegTrainLib.payoff import Curve, describe, next_hour, state_of  # noqa: E402
from weakseg.labels import PRESENT  # noqa: E402

__all__ = ["WeakSegTrain", "WeakSegTrainWidget", "WeakSegTrainLogic", "WeakSegTrainTest"]

HELP_URL = "https://github.com/WeakSeg/SlicerWeakSeg#3d-slicer"
SLICE_EFFECT = "WeakSeg slice labels"
SCRIBBLE_EFFECTS = ["Paint", "Draw", "Erase", SLICE_EFFECT]


class WeakSegTrain(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("WeakSeg Train")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["WeakSeg developers"]
        self.parent.helpText = _(
            "Annotate cases with weak labels — mark slices as containing the tumour (present), not containing it "
            "(absent) or unsure (unknown), set the first and last tumour slice, paint tumour and background "
            "scribbles — save them with each case and resume later, then train a model on the annotated cases "
            "in the background.")
        self.parent.helpText += " " + _('See the <a href="{url}">documentation</a>.').format(url=HELP_URL)
        self.parent.acknowledgementText = _("Training runs locally; no data leaves this computer.")


@parameterNodeWrapper
class WeakSegTrainParameterNode:
    casesFolder: str = ""
    annotator: str = ""
    method: str = "mixed"
    iterations: Annotated[int, WithinRange(1, 1000000)] = 1000
    device: str = "auto"
    modelId: str = ""
    runFolder: str = ""


class WeakSegTrainWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.cases = []
        self.lastTrainingConfig = None
        self.curvesChart = None

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/WeakSegTrain.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = WeakSegTrainLogic()
        self.runs = RunController(self.ui, on_update=self.onTrainingUpdate, on_finished=self.updateButtons)
        for key, info in training_methods().items():
            self.ui.methodComboBox.addItem(_(info.title), key)
            self.ui.methodComboBox.setItemData(self.ui.methodComboBox.count - 1, _(info.help), qt.Qt.ToolTipRole)
        for key, text in device_choices():
            self.ui.trainDeviceComboBox.addItem(text, key)

        table = self.ui.caseTable
        table.setColumnCount(3)
        table.setHorizontalHeaderLabels([_("Case"), _("Status"), _("Labels")])
        table.setSelectionBehavior(qt.QAbstractItemView.SelectRows)
        table.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(0, qt.QHeaderView.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, qt.QHeaderView.ResizeToContents)
        table.horizontalHeader().setSectionResizeMode(2, qt.QHeaderView.ResizeToContents)

        editor = self.ui.scribbleEditor
        editor.setMRMLScene(slicer.mrmlScene)
        editor.setMRMLSegmentEditorNode(self._segmentEditorNode())
        editor.setMaskingSectionVisible(False)  # the no-overwrite mode must not be changed by hand
        editor.setAddRemoveSegmentButtonsVisible(False)
        editor.setEffectNameOrder(SCRIBBLE_EFFECTS)
        editor.unorderedEffectsVisible = False

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.casesFolderPath.connect("currentPathChanged(QString)", self.onCasesFolderChanged)
        self.ui.runFolderPath.connect("currentPathChanged(QString)", self.onRunFolderChanged)
        self.ui.methodComboBox.connect("currentIndexChanged(int)", self.onChoiceChanged)
        self.ui.trainDeviceComboBox.connect("currentIndexChanged(int)", self.onChoiceChanged)
        self.ui.refreshCasesButton.connect("clicked(bool)", self.refreshCases)
        self.ui.caseTable.connect("itemSelectionChanged()", self.updateButtons)
        self.ui.openCaseButton.connect("clicked(bool)", self.onOpenCase)
        self.ui.saveCaseButton.connect("clicked(bool)", self.onSaveCase)
        self.ui.labelSlicesButton.connect("clicked(bool)", self.startSliceLabels)
        self.ui.classComboBox.connect("currentTextChanged(QString)", lambda _text: self.updateStrip())
        self.ui.scribbleForegroundButton.connect("clicked(bool)", lambda: self.startScribbling("foreground"))
        self.ui.scribbleBackgroundButton.connect("clicked(bool)", lambda: self.startScribbling("background"))
        self.ui.drawCoreButton.connect("clicked(bool)", lambda: self.startDrawingMask("core"))
        self.ui.drawFlairButton.connect("clicked(bool)", lambda: self.startDrawingMask("flair"))
        self.ui.startTrainingButton.connect("clicked(bool)", lambda: self.onTrain(resume=False))
        self.ui.resumeTrainingButton.connect("clicked(bool)", lambda: self.onTrain(resume=True))
        self.initializeParameterNode()

    def _segmentEditorNode(self):
        node = slicer.mrmlScene.GetSingletonNode("WeakSegTrainScribbles", "vtkMRMLSegmentEditorNode")
        if node is None:
            node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLSegmentEditorNode")
            node.UnRegister(None)
            node.SetSingletonTag("WeakSegTrainScribbles")
            node = slicer.mrmlScene.AddNode(node)
        return node

    def _stopEditing(self) -> None:
        """What Slicer's Segment Editor module does on exit: no effect keeps painting in the views."""
        editor = self.ui.scribbleEditor
        editor.setActiveEffect(None)
        editor.removeViewObservations()
        editor.uninstallKeyboardShortcuts()

    def cleanup(self) -> None:
        self.runs.cleanup()
        self._stopEditing()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()
        self.ui.scribbleEditor.setupViewObservations()
        self.ui.scribbleEditor.installKeyboardShortcuts()
        self.ui.deviceStatusLabel.setText(device_text())

    def exit(self) -> None:
        self._stopEditing()
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def onReload(self) -> None:
        from WeakSegQt import reload_packages

        self._stopEditing()
        reload_packages()
        ScriptedLoadableModuleWidget.onReload(self)

    def onSceneStartClose(self, caller, event) -> None:
        self.runs.scene_closing()  # a training has no scene dependency: it keeps running
        self.curvesChart = None
        self.logic.current = None
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        self.ui.scribbleEditor.setMRMLSegmentEditorNode(self._segmentEditorNode())
        if self.parent.isEntered:
            self.initializeParameterNode()
        self.updateButtons()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(WeakSegTrainParameterNode(self.logic.getParameterNode()))

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            p = self._parameterNode
            self.ui.casesFolderPath.currentPath = p.casesFolder
            self.ui.runFolderPath.currentPath = p.runFolder
            self.ui.methodComboBox.setCurrentIndex(max(self.ui.methodComboBox.findData(p.method), 0))
            self.ui.trainDeviceComboBox.setCurrentIndex(max(self.ui.trainDeviceComboBox.findData(p.device), 0))
        self.updateButtons()

    def onCasesFolderChanged(self, path) -> None:
        if self._parameterNode and self._parameterNode.casesFolder != path:
            self._parameterNode.casesFolder = path
            self.refreshCases()

    def onRunFolderChanged(self, path) -> None:
        if self._parameterNode:
            self._parameterNode.runFolder = path
        self.updateButtons()

    def onChoiceChanged(self, _index=None) -> None:
        if self._parameterNode:
            self._parameterNode.method = self.ui.methodComboBox.currentData or "mixed"
            self._parameterNode.device = self.ui.trainDeviceComboBox.currentData or "auto"

    # ------------------------------------------------------------------ cases

    def refreshCases(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not list the cases."), waitCursor=True):
            folder = self._parameterNode.casesFolder if self._parameterNode else ""
            self.cases = self.logic.scan_cases(folder) if folder else []
            table = self.ui.caseTable
            table.setRowCount(len(self.cases))
            for row, entry in enumerate(self.cases):
                for column, text in enumerate([entry.case_id, entry.status, ", ".join(entry.kinds)]):
                    item = qt.QTableWidgetItem(text)
                    item.setToolTip(text)
                    table.setItem(row, column, item)
            self.ui.nextHourLabel.setText(self._nextHourText())
        self.updateButtons()

    def _nextHourText(self) -> str:
        """What one more hour on each label kind is expected to buy for this list (WeakSegTrainLib.payoff)."""
        if not self.cases:
            return ""
        full, slices, unlabelled = state_of(self.cases)
        curve = Curve.read()
        return _("Next hour of annotation ({full} full, {slices} slice-labelled, {rest} unlabelled):").format(
            full=full, slices=slices, rest=unlabelled) + "\n" + describe(
                next_hour(curve, full, slices, unlabelled), partial=bool(curve and curve.partial))

    def _selectedCases(self):
        rows = sorted({index.row() for index in self.ui.caseTable.selectionModel().selectedRows()})
        return [self.cases[row] for row in rows if row < len(self.cases)]

    def onOpenCase(self) -> None:
        selected = self._selectedCases()
        if not selected:
            return
        unsaved = self.logic.unsaved_classes()
        if unsaved and not slicer.util.confirmOkCancelDisplay(
                _("The labels of {classes} in the open case are not saved. Open the next case and drop them?").format(
                    classes=", ".join(unsaved))):
            return
        self._stopEditing()
        with slicer.util.tryWithErrorDisplay(_("Could not open the case."), waitCursor=True):
            case = self.logic.open_case(selected[0])
            slicer.util.setSliceViewerLayers(background=case.reference, fit=True)
            self.ui.statusComboBox.setCurrentText(case.store.status)
            self.ui.scribbleEditor.setSegmentationNode(case.scribbles)
            self.ui.scribbleEditor.setSourceVolumeNode(case.reference)
            self.ui.openCaseLabel.text = _("Open: {case}").format(case=case.entry.case_id)
        self.updateButtons()
        self.updateStrip()

    def onSaveCase(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not save the labels."), waitCursor=True):
            chosen = self.ui.statusComboBox.currentText
            # "not started" is only the combo's initial value: labelled cases then become "partial" on their own.
            path = self.logic.save_case(None if chosen == "not started" else chosen, self._parameterNode.annotator)
            self.ui.statusComboBox.setCurrentText(self.logic.current.store.status)
            slicer.util.showStatusMessage(_("Saved {path}").format(path=str(path)), 3000)
        self.refreshCases()

    # ------------------------------------------------------------------ labels

    def _currentClass(self) -> str:
        return self.ui.classComboBox.currentText.strip()

    def _prepareEditor(self, cls: str):
        node, ids = self.logic.scribble_segments(cls)
        editor = self.ui.scribbleEditor
        editor.setSegmentationNode(node)
        editor.setSourceVolumeNode(self.logic.current.reference)
        # Set each time: Close Scene resets the editor node to "overwrite all" (vtkMRMLNode::Reset).
        editor.mrmlSegmentEditorNode().SetOverwriteMode(slicer.vtkMRMLSegmentEditorNode.OverwriteNone)
        return editor, ids

    def startSliceLabels(self) -> None:
        if self.logic.current is None or not self._currentClass():
            return
        editor, _ids = self._prepareEditor(self._currentClass())
        editor.setActiveEffectByName(SLICE_EFFECT)
        effect = editor.activeEffect()
        if effect is not None:
            effect.self().classComboBox.setCurrentText(self._currentClass())

    def startScribbling(self, polarity: str) -> None:
        if self.logic.current is None or not self._currentClass():
            return
        editor, ids = self._prepareEditor(self._currentClass())
        editor.setCurrentSegmentID(ids[polarity])
        editor.setActiveEffectByName("Paint")

    def startDrawingMask(self, cls: str) -> None:
        """Paint one of EMReDL's two masks ('core' or 'flair') with the Segment Editor's Paint effect."""
        if self.logic.current is None:
            return
        node, ids = self.logic.mask_segments()
        editor = self.ui.scribbleEditor
        editor.setSegmentationNode(node)
        editor.setSourceVolumeNode(self.logic.current.reference)
        # the core lies inside the FLAIR abnormality: both masks may hold a voxel
        editor.mrmlSegmentEditorNode().SetOverwriteMode(slicer.vtkMRMLSegmentEditorNode.OverwriteNone)
        editor.setCurrentSegmentID(ids[cls])
        editor.setActiveEffectByName("Paint")

    def updateStrip(self) -> None:
        if self.logic.current is None or not self._currentClass():
            self.ui.stripLabel.text = ""
            return
        names = {"present": _("present"), "absent": _("absent"), "unknown": _("unknown")}
        parts = []
        for axis, table in self.logic.current.tables.items():
            runs = self.logic.strip(self._currentClass(), axis)
            if any(label != "unknown" for _a, _b, label in runs):
                parts.append(axis + ": " + "; ".join(
                    (f"{a}" if a == b else f"{a}–{b}") + f" {names[label]}" for a, b, label in runs))
        self.ui.stripLabel.text = "\n".join(parts) or _("none yet")

    # ------------------------------------------------------------------ training

    def onTrain(self, resume: bool) -> None:
        if not ensure_dependencies("train", _("Training")):  # asked before any wait cursor
            return
        with slicer.util.tryWithErrorDisplay(_("Training could not start."), waitCursor=True):
            p = self._parameterNode
            if resume:
                config = (self.logic.saved_config(p.runFolder) if p.runFolder else None) or self.lastTrainingConfig
                run = self.logic.resume_training(config)
            else:
                cases = self._selectedCases() or self.cases
                model_id = p.modelId or self.logic.new_model_id(p.method)
                runFolder = p.runFolder or str(self.logic.default_run_folder(model_id))
                config = self.logic.training_config(cases, method=p.method, model_id=model_id, out=runFolder,
                                                    iterations=p.iterations, device=p.device)
                self.lastTrainingConfig = config
                run = self.logic.start_training(config)
            self.curvesChart = None
            self.runs.start(run, _("Training"), self.onTrainingDone, scene_bound=False)
        self.updateButtons()

    def onTrainingUpdate(self, run) -> None:
        from weakseg_mrml.plots import update_curves

        if not run.curves:
            return
        first = self.curvesChart is None
        self.curvesChart = update_curves(slicer.mrmlScene, run.curves, self.curvesChart, _("Training"))
        if first:  # once: the user may switch layouts while training runs
            slicer.modules.plots.logic().ShowChartInLayout(self.curvesChart)

    def onTrainingDone(self, model) -> None:
        title = model.title() if hasattr(model, "title") else str(model)
        self.runs.append_log(_("Model {model} is registered and can be selected in WeakSeg Tumor.").format(model=title))
        slicer.util.infoDisplay(_("Model {model} is registered and can be selected in WeakSeg Tumor.").format(model=title))
        self.updateButtons()

    def updateButtons(self, *args) -> None:
        case_open = self.logic is not None and self.logic.current is not None
        for button in (self.ui.labelSlicesButton, self.ui.saveCaseButton, self.ui.scribbleForegroundButton,
                       self.ui.scribbleBackgroundButton, self.ui.drawCoreButton, self.ui.drawFlairButton):
            button.enabled = case_open
        if not case_open:
            self.ui.openCaseLabel.text = _("No case is open. Pick one above and click Open case.")
        self.ui.openCaseButton.enabled = bool(self.cases) and self.ui.caseTable.currentRow() >= 0
        busy = self.runs.busy if hasattr(self, "runs") else False
        self.ui.startTrainingButton.enabled = bool(self.cases) and not busy
        folder = self._parameterNode.runFolder if self._parameterNode else ""
        try:
            resumable = self.lastTrainingConfig is not None or bool(folder and self.logic.saved_config(folder))
        except Exception:  # an unreadable config.json: not resumable (the error shows when Resume is tried)
            resumable = False
        self.ui.resumeTrainingButton.enabled = resumable and not busy


class WeakSegTrainTest(ScriptedLoadableModuleTest):
    """The real flow: two synthetic cases, slice labels saved and resumed, a tiny training registering a
    model that WeakSeg Tumor then lists. Run with ``Slicer --testing``; skips, naming what is missing,
    when torch and the other engine packages are not installed."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_annotate_and_train()

    def test_annotate_and_train(self):
        import os

        from WeakSegQt.selftest import scratch_folder, skip_unless_installed

        skip_unless_installed(self, "train")
        from WeakSegTumorLib.logic import WeakSegTumorLogic
        from weakseg.labels import WeakLabelStore
        from weakseg_mrml.demo import TINY_MIXED_OPTIONS, TINY_RUN, write_demo_cases

        root = scratch_folder(self, "WeakSegTrainTest-")
        write_demo_cases(os.path.join(root, "cases"))
        logic = WeakSegTrainLogic()
        cases = logic.scan_cases(os.path.join(root, "cases"))
        self.assertEqual([c.status for c in cases], ["not started", "not started"])
        self.delayDisplay(_("Labelling slices"))
        logic.open_case(cases[0])
        logic.set_first_last("WT", 10, 20)
        logic.mark_slice("ET", PRESENT, index=15)
        logic.save_case(annotator="selftest")
        store = WeakLabelStore.open(cases[0].folder, create=False)
        self.assertEqual(store.slice_ranges("WT"), [(10, 20)])
        slicer.mrmlScene.Clear()
        resumed = logic.open_case(cases[0])
        self.assertEqual(logic.strip("ET")[1], (15, 15, "present"))
        self.assertEqual(resumed.store.status, "partial")

        self.delayDisplay(_("Training in the background"))
        config = logic.training_config(cases, model_id="selftest-train", out=os.path.join(root, "run"),
                                       options=TINY_MIXED_OPTIONS, **TINY_RUN)
        run = logic.start_training(config)
        while run.running:  # the panel polls from a timer; here the test keeps the application responsive
            slicer.app.processEvents()
            run.poll()
            time.sleep(0.05)
        run.wait()
        model = run.finish()
        self.assertIn("train/loss", run.curves)
        self.assertIn(model.id, [m.id for m in WeakSegTumorLogic().models()])
        self.delayDisplay(_("Test passed"))
