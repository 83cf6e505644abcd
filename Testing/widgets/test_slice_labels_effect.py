"""The "WeakSeg slice labels" effect's own code (``SegmentEditorEffect.py``) driven as the Segment Editor drives it.

Slicer's C++ side (the scripted-effect object, the slice widget) cannot run here, so it is
played by two small objects offering the calls the effect makes; the options widgets are real
Qt, the interactor is a real VTK interactor carrying the key and the mouse position, the slice
node, scene, volume and case store are real. Checked: P/A/U/S/E label the slice under the
mouse on the view's own axis and are consumed; other keys, and keys with Ctrl, are left to
Slicer; a strip actor is drawn in the view and removed on deactivate; Save writes the store.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

pytest.importorskip("PyQt5.uic")
pytest.importorskip("slicer_core")

import pythonqt  # noqa: E402
import render_panels  # noqa: E402

EFFECT_DIR = render_panels.ROOT / "SegmentEditorWeakSegSliceLabels" / "SegmentEditorWeakSegSliceLabelsLib"


class _ScriptedEffect:
    """What ``qSlicerSegmentEditorScriptedEffect`` offers the Python effect (the calls it makes)."""

    def __init__(self, source_volume):
        from PyQt5 import QtWidgets

        render_panels.application()
        self.frame = QtWidgets.QWidget()
        self.form = QtWidgets.QFormLayout(self.frame)
        self.actors = {}
        self.renders = 0
        self._parameters = types.SimpleNamespace(GetSourceVolumeNode=lambda: source_volume)

    def parameterSetNode(self):
        return self._parameters

    def addOptionsWidget(self, widget_or_layout):
        self.form.addRow(widget_or_layout)

    def addLabeledOptionsWidget(self, label, widget):
        self.form.addRow(label, widget)

    def addActor2D(self, view, actor):
        self.actors.setdefault(view, []).append(actor)

    def removeActor2D(self, view, actor):
        self.actors[view].remove(actor)

    def forceRender(self, view):
        self.renders += 1


class _SliceWidget:
    """A slice view as the editor hands it to the effect: its slice node and its height in pixels."""

    def __init__(self, slice_node, height=300):
        self._node = slice_node
        self._view = types.SimpleNamespace(height=height, underMouse=lambda: True)

    def className(self):
        return "qMRMLSliceWidget"

    def mrmlSliceNode(self):
        return self._node

    def sliceView(self):
        return self._view


@pytest.fixture
def effect(monkeypatch, mrml_scene, tmp_path):
    import slicer

    from WeakSegTrainLib.logic import WeakSegTrainLogic
    from weakseg_mrml.demo import write_demo_cases

    shown = pythonqt.pythonqt_layer(monkeypatch)
    pythonqt.property_access(monkeypatch)
    monkeypatch.setattr(slicer, "mrmlScene", mrml_scene, raising=False)
    monkeypatch.setattr(slicer, "app", types.SimpleNamespace(layoutManager=lambda: None), raising=False)
    monkeypatch.setitem(sys.modules, "SegmentEditorEffects",
                        types.SimpleNamespace(AbstractScriptedSegmentEditorEffect=_AbstractEffect))
    folder = write_demo_cases(tmp_path / "cases", seeds=(4,))[0]
    case = WeakSegTrainLogic(mrml_scene).open_case(folder)
    monkeypatch.syspath_prepend(str(EFFECT_DIR))
    module = pythonqt.fresh_import(monkeypatch, render_panels.ROOT, "SegmentEditorEffect")
    scripted = _ScriptedEffect(case.reference)
    instance = module.SegmentEditorEffect(scripted)
    instance.setupOptionsFrame()
    yield instance, scripted, case, folder
    assert not shown["errors"], shown["errors"]  # nothing went wrong behind the effect's error display


class _AbstractEffect:
    """``SegmentEditorEffects.AbstractScriptedSegmentEditorEffect``: keeps the scripted effect, as Slicer's does."""

    def __init__(self, scriptedEffect):
        self.scriptedEffect = scriptedEffect


def _interactor(key, xy=(100, 150), ctrl=False):
    from vtkmodules.vtkRenderingCore import vtkRenderWindowInteractor

    interactor = vtkRenderWindowInteractor()
    interactor.SetKeySym(key)
    interactor.SetEventPosition(*xy)
    interactor.SetControlKey(1 if ctrl else 0)
    return interactor


def _view_at(scene, volume, index_ijk, axes, name):
    from weakseg_mrml.volumes import image_from_volume
    from slicer import vtkMRMLSliceNode

    image = image_from_volume(volume)
    x, y, z = image.TransformContinuousIndexToPhysicalPoint([float(i) for i in index_ijk])
    node = vtkMRMLSliceNode()
    node.SetName(name)
    scene.AddNode(node)
    node.SetDimensions(200, 300, 1)
    node.SetFieldOfView(200.0, 300.0, 1.0)
    matrix = node.GetSliceToRAS()
    for r in range(3):
        for c in range(3):
            matrix.SetElement(r, c, float(axes[r][c]))
    for r, value in enumerate((-x, -y, z)):
        matrix.SetElement(r, 3, value)
    node.UpdateMatrices()
    return _SliceWidget(node)


def test_keys_label_the_slice_under_the_mouse_on_the_views_axis(effect, mrml_scene):
    import vtk

    from weakseg.labels import ABSENT, PRESENT, UNKNOWN, WeakLabelStore

    instance, scripted, case, folder = effect
    size = case.store.grid.size
    red = _view_at(mrml_scene, case.reference, (size[0] // 2, size[1] // 2, 6), [[-1, 0, 0], [0, 1, 0], [0, 0, 1]], "Red")
    green = _view_at(mrml_scene, case.reference, (size[0] // 2, 5, size[2] // 2), [[-1, 0, 0], [0, 0, 1], [0, 1, 0]],
                     "Green")
    key = vtk.vtkCommand.KeyPressEvent
    assert instance.processInteractionEvents(_interactor("s"), key, red) is True  # first tumour slice: 6
    red9 = _view_at(mrml_scene, case.reference, (size[0] // 2, size[1] // 2, 9), [[-1, 0, 0], [0, 1, 0], [0, 0, 1]],
                    "Red9")
    assert instance.processInteractionEvents(_interactor("e"), key, red9) is True  # last: 9
    assert instance.processInteractionEvents(_interactor("p"), key, green) is True  # coronal slice 5
    assert instance.processInteractionEvents(_interactor("bracketleft"), key, red) is False  # Slicer's key
    assert instance.processInteractionEvents(_interactor("a", ctrl=True), key, red) is False  # Ctrl+A: Slicer's
    # The strip: drawn in the view, one rectangle per run of labels plus the marker, and listed in the options.
    instance.drawStrip(red)
    actor = scripted.actors[red][0]
    polys = actor.GetMapper().GetInput().GetNumberOfPolys()
    assert polys == 3 + 1 and "6–9 present" in instance.stripLabel.text
    instance.onSave()
    store = WeakLabelStore.open(folder, create=False)
    assert store.slice_ranges("WT", "axial") == [(6, 9)]
    coronal = store.slice_labels("WT", "coronal")
    assert coronal[5] == PRESENT and (np.delete(coronal, 5) == UNKNOWN).all()
    assert (np.delete(store.slice_labels("WT", "axial"), range(6, 10)) == ABSENT).all()
    instance.deactivate()
    assert scripted.actors[red] == [] and instance.strips == {}


def test_region_choice_and_no_source_volume(effect, mrml_scene):
    import vtk

    instance, scripted, case, _folder = effect
    instance.classComboBox.setCurrentText("ET")
    size = case.store.grid.size
    red = _view_at(mrml_scene, case.reference, (size[0] // 2, size[1] // 2, 3), [[-1, 0, 0], [0, 1, 0], [0, 0, 1]], "Red")
    assert instance.processInteractionEvents(_interactor("a"), vtk.vtkCommand.KeyPressEvent, red) is True
    from weakseg_mrml import slice_labels

    table = slice_labels.find_table(mrml_scene, case.reference, "axial")
    assert slice_labels.get_labels(table, "ET")[3] == 0 and "ET" in slice_labels.classes(table)
    scripted._parameters.GetSourceVolumeNode = lambda: None
    assert instance.processInteractionEvents(_interactor("p"), vtk.vtkCommand.KeyPressEvent, red) is False
