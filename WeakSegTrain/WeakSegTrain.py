"""WeakSegTrain: weak labels (slice labels, scribbles) per case, saved to the weak-label store, and training.

Thin panel over ``WeakSegTrainLib/logic.py`` (no Qt): keyboard shortcuts mark the slice
under the red view, scribbles are painted with the Segment Editor's own effects into tagged
segments, and training runs in a worker with progress, ETA, curves, cancel and resume. The
finished model is registered and at once selectable in WeakSeg Tumor / WeakSeg OAR.
"""

import os
import pathlib
import tempfile
import time
from typing import Annotated

import qt
import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from WeakSegTrainLib.logic import METHODS, WeakSegTrainLogic
from WeakSegTumorLib.qt_run import RunController, ensure_dependencies
from weakseg.labels import ABSENT, PRESENT, UNKNOWN

__all__ = ["WeakSegTrain", "WeakSegTrainWidget", "WeakSegTrainLogic", "WeakSegTrainTest"]

SHORTCUTS = {"P": PRESENT, "A": ABSENT, "U": UNKNOWN}


class WeakSegTrain(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("WeakSeg Train")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "WeakSeg")]
        self.parent.dependencies = ["WeakSegTumor"]  # shares its run panel code
        self.parent.contributors = ["WeakSeg developers"]
        self.parent.helpText = _(
            "Annotate cases with weak labels — mark slices as containing the tumour or organ (present), not "
            "containing it (absent) or unsure (unknown), set the first and last tumour slice, paint foreground and "
            "background scribbles — save them with each case and resume later, then train a model on the "
            "annotated cases in the background.")
        self.parent.helpText += self.getDefaultModuleDocumentationLink()
        self.parent.acknowledgementText = _("Training runs locally; no data leaves this computer.")


@parameterNodeWrapper
class WeakSegTrainParameterNode:
    casesFolder: pathlib.Path
    annotator: str = ""
    axis: Annotated[str, Choice(["axial", "coronal", "sagittal"])] = "axial"
    method: Annotated[str, Choice(list(METHODS))] = "mixed"
    iterations: Annotated[int, WithinRange(1, 1000000)] = 1000
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"
    modelId: str = ""
    runFolder: pathlib.Path


class WeakSegTrainWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.cases = []
        self.shortcuts = []
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
        self.runs = RunController(self.ui.progressBar, self.ui.statusLabel, self.ui.cancelButton,
                                  self.ui.copyDiagnosticsButton, on_update=self.onTrainingUpdate,
                                  on_finished=self.updateButtons)

        self.ui.caseTable.setColumnCount(3)
        self.ui.caseTable.setHorizontalHeaderLabels([_("Case"), _("Status"), _("Labels")])
        self.ui.caseTable.setSelectionBehavior(qt.QAbstractItemView.SelectRows)
        self.ui.caseTable.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.refreshCasesButton.connect("clicked(bool)", self.refreshCases)
        self.ui.caseTable.connect("itemSelectionChanged()", self.updateButtons)
        self.ui.openCaseButton.connect("clicked(bool)", self.onOpenCase)
        self.ui.saveCaseButton.connect("clicked(bool)", self.onSaveCase)
        self.ui.markPresentButton.connect("clicked(bool)", lambda: self.markCurrentSlice(PRESENT))
        self.ui.markAbsentButton.connect("clicked(bool)", lambda: self.markCurrentSlice(ABSENT))
        self.ui.markUnknownButton.connect("clicked(bool)", lambda: self.markCurrentSlice(UNKNOWN))
        self.ui.setFirstButton.connect("clicked(bool)", lambda: self.setRangeEnd(first=True))
        self.ui.setLastButton.connect("clicked(bool)", lambda: self.setRangeEnd(first=False))
        self.ui.classComboBox.connect("currentTextChanged(QString)", lambda _text: self.updateStrip())
        self.ui.scribbleForegroundButton.connect("clicked(bool)", lambda: self.startScribbling("foreground"))
        self.ui.scribbleBackgroundButton.connect("clicked(bool)", lambda: self.startScribbling("background"))
        self.ui.startTrainingButton.connect("clicked(bool)", lambda: self.onTrain(resume=False))
        self.ui.resumeTrainingButton.connect("clicked(bool)", lambda: self.onTrain(resume=True))
        self.ui.scribbleEditor.setMRMLScene(slicer.mrmlScene)
        self.ui.scribbleEditor.setMRMLSegmentEditorNode(self._segmentEditorNode())
        self.initializeParameterNode()

    def _segmentEditorNode(self):
        node = slicer.mrmlScene.GetSingletonNode("WeakSegTrainScribbles", "vtkMRMLSegmentEditorNode")
        if node is None:
            node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLSegmentEditorNode")
            node.UnRegister(None)
            node.SetSingletonTag("WeakSegTrainScribbles")
            node = slicer.mrmlScene.AddNode(node)
        # Foreground and background strokes of a class may overlap until the user corrects them.
        node.SetOverwriteMode(slicer.vtkMRMLSegmentEditorNode.OverwriteNone)
        return node

    def cleanup(self) -> None:
        self.runs.cleanup()
        self.removeShortcuts()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()
        self.installShortcuts()

    def exit(self) -> None:
        self.removeShortcuts()
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def onSceneStartClose(self, caller, event) -> None:
        self.runs.cleanup()
        self.logic.current = None
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(WeakSegTrainParameterNode(self.logic.getParameterNode()))

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
        self.updateButtons()

    # ------------------------------------------------------------------ keyboard shortcuts

    def installShortcuts(self) -> None:
        self.removeShortcuts()
        keys = [(key, lambda value=value: self.markCurrentSlice(value)) for key, value in SHORTCUTS.items()]
        keys += [("[", lambda: self.setRangeEnd(first=True)), ("]", lambda: self.setRangeEnd(first=False))]
        for key, callback in keys:
            shortcut = qt.QShortcut(slicer.util.mainWindow())
            shortcut.setKey(qt.QKeySequence(key))
            shortcut.connect("activated()", callback)
            self.shortcuts.append(shortcut)

    def removeShortcuts(self) -> None:
        for shortcut in self.shortcuts:
            shortcut.disconnect("activated()")
            shortcut.setParent(None)
        self.shortcuts = []

    # ------------------------------------------------------------------ cases

    def refreshCases(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not list the cases."), waitCursor=True):
            folder = self._parameterNode.casesFolder
            self.cases = self.logic.scan_cases(folder) if folder and str(folder) not in ("", ".") else []
            table = self.ui.caseTable
            table.setRowCount(len(self.cases))
            for row, entry in enumerate(self.cases):
                for column, text in enumerate([entry.case_id, entry.status, ", ".join(entry.kinds)]):
                    table.setItem(row, column, qt.QTableWidgetItem(text))
        self.updateButtons()

    def _selectedCases(self):
        rows = sorted({index.row() for index in self.ui.caseTable.selectionModel().selectedRows()})
        return [self.cases[row] for row in rows if row < len(self.cases)]

    def onOpenCase(self) -> None:
        selected = self._selectedCases()
        if not selected:
            return
        with slicer.util.tryWithErrorDisplay(_("Could not open the case."), waitCursor=True):
            case = self.logic.open_case(selected[0])
            slicer.util.setSliceViewerLayers(background=case.reference, fit=True)
            self.ui.statusComboBox.setCurrentText(case.store.status)
            self.ui.scribbleEditor.setSegmentationNode(case.scribbles)
            self.ui.scribbleEditor.setSourceVolumeNode(case.reference)
        self.updateButtons()
        self.updateStrip()

    def onSaveCase(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not save the labels."), waitCursor=True):
            path = self.logic.save_case(self.ui.statusComboBox.currentText, self._parameterNode.annotator)
            slicer.util.showStatusMessage(_("Saved {path}").format(path=str(path)), 3000)
        self.refreshCases()

    # ------------------------------------------------------------------ slice labels

    def _currentClass(self) -> str:
        return self.ui.classComboBox.currentText.strip()

    def _redSliceCentre(self):
        sliceNode = slicer.app.layoutManager().sliceWidget("Red").mrmlSliceNode()
        matrix = sliceNode.GetSliceToRAS()
        return (matrix.GetElement(0, 3), matrix.GetElement(1, 3), matrix.GetElement(2, 3))

    def markCurrentSlice(self, value) -> None:
        if self.logic.current is None or not self._currentClass():
            return
        with slicer.util.tryWithErrorDisplay(_("Could not mark the slice.")):
            index = self.logic.mark_slice(self._currentClass(), value, ras=self._redSliceCentre(),
                                          axis=self._parameterNode.axis)
            names = {PRESENT: _("present"), ABSENT: _("absent"), UNKNOWN: _("unknown")}
            slicer.util.showStatusMessage(_("Slice {index}: {label}").format(index=index, label=names[value]), 2000)
        self.updateStrip()

    def setRangeEnd(self, first: bool) -> None:
        if self.logic.current is None or not self._currentClass():
            return
        axis = self._parameterNode.axis
        with slicer.util.tryWithErrorDisplay(_("Could not set the slice range.")):
            index = self.logic.slice_index(self._redSliceCentre(), axis)
            present = [i for i, v in enumerate(self.logic.slice_labels(self._currentClass(), axis)) if v == PRESENT]
            other = (present[-1] if first else present[0]) if present else index
            self.logic.set_first_last(self._currentClass(), index if first else other, other if first else index, axis)
        self.updateStrip()

    def updateStrip(self) -> None:
        if self.logic.current is None or not self._currentClass() or not self._parameterNode:
            self.ui.stripLabel.text = ""
            return
        runs = self.logic.strip(self._currentClass(), self._parameterNode.axis)
        names = {"present": _("present"), "absent": _("absent"), "unknown": _("unknown")}
        self.ui.stripLabel.text = "; ".join(
            (f"{a}" if a == b else f"{a}–{b}") + f" {names[label]}" for a, b, label in runs)

    # ------------------------------------------------------------------ scribbles

    def startScribbling(self, polarity: str) -> None:
        if self.logic.current is None or not self._currentClass():
            return
        node, ids = self.logic.scribble_segments(self._currentClass())
        editor = self.ui.scribbleEditor
        editor.setSegmentationNode(node)
        editor.setSourceVolumeNode(self.logic.current.reference)
        editor.setCurrentSegmentID(ids[polarity])
        editor.setActiveEffectByName("Paint")

    # ------------------------------------------------------------------ training

    def onTrain(self, resume: bool) -> None:
        with slicer.util.tryWithErrorDisplay(_("Training could not start."), waitCursor=True):
            if not ensure_dependencies():
                return
            p = self._parameterNode
            if resume:
                if self.lastTrainingConfig is None:
                    raise ValueError(_("There is no training run to resume in this session."))
                run = self.logic.resume_training({**self.lastTrainingConfig, "iterations": p.iterations})
            else:
                cases = self._selectedCases() or self.cases
                runFolder = str(p.runFolder) if p.runFolder and str(p.runFolder) not in ("", ".") else \
                    tempfile.mkdtemp(prefix="weakseg-train-")
                config = self.logic.training_config(cases, method=p.method, model_id=p.modelId or None,
                                                    out=runFolder, iterations=p.iterations, device=p.device)
                self.lastTrainingConfig = config
                run = self.logic.start_training(config)
            self.curvesChart = None
            self.runs.start(run, _("Training"), self.onTrainingDone)
        self.updateButtons()

    def onTrainingUpdate(self, run) -> None:
        from weakseg_mrml.plots import update_curves

        if run.curves:
            self.curvesChart = update_curves(slicer.mrmlScene, run.curves, self.curvesChart, _("Training"))
            slicer.modules.plots.logic().ShowChartInLayout(self.curvesChart)

    def onTrainingDone(self, model) -> None:
        title = model.title() if hasattr(model, "title") else str(model)
        slicer.util.infoDisplay(_("Model {model} is registered and can be selected in WeakSeg Tumor.").format(model=title))
        self.updateButtons()

    def updateButtons(self, *args) -> None:
        case_open = self.logic is not None and self.logic.current is not None
        for button in (self.ui.markPresentButton, self.ui.markAbsentButton, self.ui.markUnknownButton,
                       self.ui.setFirstButton, self.ui.setLastButton, self.ui.saveCaseButton,
                       self.ui.scribbleForegroundButton, self.ui.scribbleBackgroundButton):
            button.enabled = case_open
        self.ui.openCaseButton.enabled = bool(self.cases) and self.ui.caseTable.currentRow() >= 0
        busy = self.runs.busy if hasattr(self, "runs") else False
        self.ui.startTrainingButton.enabled = bool(self.cases) and not busy
        self.ui.resumeTrainingButton.enabled = self.lastTrainingConfig is not None and not busy


class WeakSegTrainTest(ScriptedLoadableModuleTest):
    """The real flow: two synthetic cases, slice labels and scribbles saved and resumed, a tiny training
    registering a model that WeakSeg Tumor then lists. Run with ``Slicer --testing`` (needs torch)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_annotate_and_train()

    def test_annotate_and_train(self):
        from WeakSegTumorLib.logic import WeakSegTumorLogic
        from weakseg.labels import WeakLabelStore
        from weakseg_mrml.demo import TINY_MIXED_OPTIONS, TINY_RUN, write_demo_cases

        root = tempfile.mkdtemp(prefix="WeakSegTrainTest-")
        os.environ["WEAKSEG_MODELS"] = os.path.join(root, "models")
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
