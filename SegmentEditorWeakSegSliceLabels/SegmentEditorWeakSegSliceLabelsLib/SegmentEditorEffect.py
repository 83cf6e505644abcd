"""The "WeakSeg slice labels" Segment Editor effect: label whole slices present / absent / unknown.

Works in whichever slice view the mouse is in: the view's orientation decides the axis
(``weakseg_mrml.slice_view``), so the Green view labels coronal slices and the Yellow view
sagittal ones. Keys act only while the effect is active and the mouse is over a slice view,
and the event is consumed there, so Slicer's own keys ([ ] for the background volume) keep
working everywhere else. A strip along the left edge of each view shows the labels along
the axis, with a marker at the slice shown. "Save labels" writes the case's weak-label store
exactly as WeakSeg Train's Save does (``weakseg_mrml.case_labels``).
"""

import os

import qt
import slicer
import vtk
from SegmentEditorEffects import AbstractScriptedSegmentEditorEffect
from slicer.i18n import tr as _

from weakseg.labels import ABSENT, PRESENT, UNKNOWN
from weakseg_mrml import slice_view
from weakseg_mrml.case_labels import save_case_labels

KEYS = {"p": ("mark", PRESENT), "a": ("mark", ABSENT), "u": ("mark", UNKNOWN), "s": ("first", None),
        "e": ("last", None)}
CLASSES = ("WT", "TC", "ET")


class SegmentEditorEffect(AbstractScriptedSegmentEditorEffect):
    def __init__(self, scriptedEffect):
        scriptedEffect.name = "WeakSeg slice labels"
        scriptedEffect.title = _("Slice labels")
        scriptedEffect.perSegment = False
        scriptedEffect.requireSegments = False
        AbstractScriptedSegmentEditorEffect.__init__(self, scriptedEffect)
        self.strips = {}  # view widget → (actor, polydata)

    def clone(self):
        import qSlicerSegmentationsEditorEffectsPythonQt as effects

        cloned = effects.qSlicerSegmentEditorScriptedEffect(None)
        cloned.setPythonSource(__file__.replace("\\", "/"))
        return cloned

    def icon(self):
        path = os.path.join(os.path.dirname(__file__), "SegmentEditorEffect.png")
        return qt.QIcon(path) if os.path.exists(path) else qt.QIcon()

    def helpText(self):
        return _("<html>Label whole slices for weak-label training, in any slice view.<br>"
                 "Keys, with the mouse over a view: <b>P</b> tumour present, <b>A</b> absent, <b>U</b> unknown, "
                 "<b>S</b> first tumour slice, <b>E</b> last tumour slice (slices between are present, the rest "
                 "absent). The strip at the left of each view shows the labels along its axis.</html>")

    # ------------------------------------------------------------------ options

    def setupOptionsFrame(self):
        self.classComboBox = qt.QComboBox()
        self.classComboBox.editable = True
        self.classComboBox.addItems(list(CLASSES))
        self.classComboBox.toolTip = _("Tumour region the labels are for (WT whole tumour, TC core, ET enhancing)")
        self.scriptedEffect.addLabeledOptionsWidget(_("Region:"), self.classComboBox)
        buttons = qt.QHBoxLayout()
        for text, key in ((_("Present (P)"), "p"), (_("Absent (A)"), "a"), (_("Unknown (U)"), "u"),
                          (_("First (S)"), "s"), (_("Last (E)"), "e")):
            button = qt.QPushButton(text)
            button.connect("clicked()", lambda key=key: self.act(key, None, None))
            buttons.addWidget(button)
        self.scriptedEffect.addOptionsWidget(buttons)
        self.stripLabel = qt.QLabel()
        self.stripLabel.wordWrap = True
        self.scriptedEffect.addLabeledOptionsWidget(_("Labels:"), self.stripLabel)
        self.saveButton = qt.QPushButton(_("Save labels"))
        self.saveButton.toolTip = _("Write the slice labels and scribbles to the case's weak-label store")
        self.saveButton.connect("clicked()", self.onSave)
        self.scriptedEffect.addOptionsWidget(self.saveButton)
        self.classComboBox.connect("currentTextChanged(QString)", lambda _text: self.refreshStrips())

    def createCursor(self, widget):
        return slicer.util.mainWindow().cursor

    def activate(self):
        self.refreshStrips()

    def deactivate(self):
        for view, (actor, _polydata) in list(self.strips.items()):
            self.scriptedEffect.removeActor2D(view, actor)
        self.strips = {}

    # ------------------------------------------------------------------ events

    def _volume(self):
        return self.scriptedEffect.parameterSetNode().GetSourceVolumeNode()

    def _cls(self):
        return self.classComboBox.currentText.strip()

    def processInteractionEvents(self, callerInteractor, eventId, viewWidget):
        if viewWidget.className() != "qMRMLSliceWidget" or self._volume() is None:
            return False
        if eventId == vtk.vtkCommand.KeyPressEvent:
            key = callerInteractor.GetKeySym().lower()
            plain = not (callerInteractor.GetControlKey() or callerInteractor.GetAltKey())  # Ctrl+S etc. stay Slicer's
            if plain and key in KEYS:
                self.act(key, viewWidget, callerInteractor.GetEventPosition())
                return True  # consumed: only here, only while this effect is active
        elif eventId == vtk.vtkCommand.MouseMoveEvent:
            self.drawStrip(viewWidget)
        return False

    def processViewNodeEvents(self, callerViewNode, eventId, viewWidget):
        if viewWidget.className() == "qMRMLSliceWidget":
            self.drawStrip(viewWidget)

    def _sliceWidget(self):
        """The view the panel buttons act on: the one under the mouse last, else Red."""
        layout = slicer.app.layoutManager()
        for name in layout.sliceViewNames():
            widget = layout.sliceWidget(name)
            if widget.sliceView().underMouse():
                return widget
        return layout.sliceWidget("Red")

    def act(self, key, viewWidget, xy):
        volume, cls = self._volume(), self._cls()
        if volume is None or not cls:
            slicer.util.showStatusMessage(_("Choose the case's volume as source volume and a region first"), 3000)
            return
        viewWidget = viewWidget or self._sliceWidget()
        sliceNode = viewWidget.mrmlSliceNode()
        action, value = KEYS[key]
        with slicer.util.tryWithErrorDisplay(_("Could not label the slice.")):
            if action == "mark":
                where = slice_view.mark(slicer.mrmlScene, volume, sliceNode, cls, value, xy)
                names = {PRESENT: _("present"), ABSENT: _("absent"), UNKNOWN: _("unknown")}
                slicer.util.showStatusMessage(_("{axis} slice {index}: {label}").format(
                    axis=where.axis, index=where.index, label=names[value]), 2000)
            else:
                first, last = slice_view.set_range_end(slicer.mrmlScene, volume, sliceNode, cls,
                                                       first=(action == "first"), xy=xy)
                slicer.util.showStatusMessage(_("{cls}: slices {first}–{last} present").format(
                    cls=cls, first=first, last=last), 2000)
        self.refreshStrips()

    def onSave(self):
        volume = self._volume()
        with slicer.util.tryWithErrorDisplay(_("Could not save the labels."), waitCursor=True):
            path = save_case_labels(slicer.mrmlScene, volume)
            slicer.util.showStatusMessage(_("Saved {path}").format(path=str(path)), 3000)

    # ------------------------------------------------------------------ the strip

    def refreshStrips(self):
        layout = slicer.app.layoutManager()
        if layout is None:
            return
        for name in layout.sliceViewNames():
            self.drawStrip(layout.sliceWidget(name))

    def drawStrip(self, viewWidget):
        volume, cls = self._volume(), self._cls()
        if viewWidget not in self.strips:
            polydata = vtk.vtkPolyData()
            mapper = vtk.vtkPolyDataMapper2D()
            mapper.SetInputData(polydata)
            actor = vtk.vtkActor2D()
            actor.SetMapper(mapper)
            self.scriptedEffect.addActor2D(viewWidget, actor)
            self.strips[viewWidget] = (actor, polydata)
        actor, polydata = self.strips[viewWidget]
        try:
            where, runs = slice_view.strip(slicer.mrmlScene, volume, viewWidget.mrmlSliceNode(), cls) \
                if volume is not None and cls else (None, [])
        except Exception:  # oblique view, or the view shows another volume: no strip there
            where, runs = None, []
        polydata.Initialize()
        if where is not None:
            height = viewWidget.sliceView().height
            rectangles = slice_view.strip_rectangles(runs, where.n_slices, height)
            marker = slice_view.marker_y(where.index, where.n_slices, height)
            self._fill(polydata, rectangles, marker)
            self.stripLabel.text = "; ".join(
                (f"{a}" if a == b else f"{a}–{b}") + f" {label}" for a, b, label in runs)
        self.scriptedEffect.forceRender(viewWidget)

    @staticmethod
    def _fill(polydata, rectangles, marker):
        points, cells, colours = vtk.vtkPoints(), vtk.vtkCellArray(), vtk.vtkUnsignedCharArray()
        colours.SetNumberOfComponents(3)
        shapes = [(x0, y0, x1, y1, rgb) for x0, y0, x1, y1, rgb in rectangles]
        shapes.append((2.0, marker - 1.5, 20.0, marker + 1.5, (1.0, 1.0, 0.2)))
        for x0, y0, x1, y1, rgb in shapes:
            ids = [points.InsertNextPoint(x, y, 0.0) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
            cells.InsertNextCell(4, ids)
            colours.InsertNextTuple3(*(int(255 * c) for c in rgb))
        polydata.SetPoints(points)
        polydata.SetPolys(cells)
        polydata.GetCellData().SetScalars(colours)
