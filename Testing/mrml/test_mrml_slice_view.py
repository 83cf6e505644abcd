"""The slice-label effect's logic on a real scene: the slice under a view on any axis, the strip, the store.

The view's orientation decides the axis (Green → coronal on an axial series; Red → axial on a
sagittally acquired one), an oblique view is refused, and labels given in a view are saved to
the case's weak-label store by the same save the WeakSeg Train panel uses.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from slicer import vtkMRMLSliceNode

from weakseg.errors import WeakSegError
from weakseg.labels import ABSENT, PRESENT, UNKNOWN, WeakLabelStore
from weakseg_mrml import slice_view
from weakseg_mrml.case_labels import save_case_labels, unsaved_classes
from weakseg_mrml.demo import write_demo_cases
from weakseg_mrml.volumes import add_volume_from_image

# Slicer's view axes (columns: view x, view y, normal) for the three standard views.
RED = np.array([[-1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
GREEN = np.array([[-1, 0, 0], [0, 0, 1], [0, 1, 0]], float)


def _view(scene, axes: np.ndarray, origin_ras, name="View") -> vtkMRMLSliceNode:
    node = vtkMRMLSliceNode()
    node.SetName(name)
    node.SetLayoutName(name)
    scene.AddNode(node)
    node.SetDimensions(200, 160, 1)
    node.SetFieldOfView(200.0, 160.0, 1.0)
    matrix = node.GetSliceToRAS()
    for r in range(3):
        for c in range(3):
            matrix.SetElement(r, c, float(axes[r, c]))
        matrix.SetElement(r, 3, float(origin_ras[r]))
    node.UpdateMatrices()
    return node


def _yellow():
    axes = np.zeros((3, 3))
    axes[:, 0] = (0, 1, 0)  # view x: anterior
    axes[:, 1] = (0, 0, 1)  # view y: superior
    axes[:, 2] = (1, 0, 0)  # normal: right
    return axes


def _image(direction=(1, 0, 0, 0, 1, 0, 0, 0, 1), size=(16, 14, 10)) -> sitk.Image:
    image = sitk.Image(list(size), sitk.sitkInt16)
    image.SetSpacing((1.0, 1.2, 2.0))
    image.SetOrigin((-8.0, -7.0, 3.0))
    image.SetDirection(direction)
    return image


def _ras(image, index):
    x, y, z = image.TransformContinuousIndexToPhysicalPoint([float(i) for i in index])
    return (-x, -y, z)


def test_each_standard_view_labels_its_own_axis_on_an_axial_series(mrml_scene):
    image = _image()
    volume = add_volume_from_image(mrml_scene, image, "flair")
    point = _ras(image, (5, 9, 7))
    red = slice_view.slice_under_view(volume, _view(mrml_scene, RED, point, "Red"))
    green = slice_view.slice_under_view(volume, _view(mrml_scene, GREEN, point, "Green"))
    yellow = slice_view.slice_under_view(volume, _view(mrml_scene, _yellow(), point, "Yellow"))
    assert (red.axis, red.index, red.n_slices) == ("axial", 7, 10)
    assert (green.axis, green.index, green.n_slices) == ("coronal", 9, 14)
    assert (yellow.axis, yellow.index, yellow.n_slices) == ("sagittal", 5, 16)


def test_a_sagittally_acquired_series_is_labelled_on_its_true_axes(mrml_scene):
    # Index i runs anterior→posterior, j superior→inferior, k left→right (LPS direction columns).
    direction = np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float)
    image = _image(tuple(direction.ravel()), size=(12, 14, 9))
    volume = add_volume_from_image(mrml_scene, image, "t1 sag")
    point = _ras(image, (4, 6, 3))
    assert slice_view.slice_under_view(volume, _view(mrml_scene, _yellow(), point)).axis == "sagittal"
    assert slice_view.slice_under_view(volume, _view(mrml_scene, _yellow(), point)).index == 3
    red = slice_view.slice_under_view(volume, _view(mrml_scene, RED, point, "Red"))
    assert (red.axis, red.index, red.n_slices) == ("axial", 6, 14)


def test_an_oblique_view_is_refused_and_the_mouse_point_is_on_the_plane(mrml_scene):
    image = _image()
    volume = add_volume_from_image(mrml_scene, image, "flair")
    angle = np.radians(30)
    tilted = RED @ np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    with pytest.raises(WeakSegError, match="oblique"):
        slice_view.slice_under_view(volume, _view(mrml_scene, tilted, _ras(image, (5, 5, 5))))
    view = _view(mrml_scene, RED, _ras(image, (5, 5, 4)), "Red")
    at_mouse = slice_view.view_point(view, (30, 140))
    assert at_mouse[2] == pytest.approx(_ras(image, (5, 5, 4))[2])  # same plane, other pixel
    assert slice_view.slice_under_view(volume, view, (30, 140)).index == 4


def test_labels_from_views_reach_the_case_store_and_the_strip(mrml_scene, tmp_path):
    from WeakSegTrainLib.logic import WeakSegTrainLogic

    folder = write_demo_cases(tmp_path / "cases", seeds=(3,))[0]
    logic = WeakSegTrainLogic(mrml_scene)
    case = logic.open_case(folder)
    volume = case.reference
    from weakseg_mrml.volumes import image_from_volume

    image = image_from_volume(volume)
    size = image.GetSize()
    green = _view(mrml_scene, GREEN, _ras(image, (size[0] // 2, 6, size[2] // 2)), "Green")
    red = _view(mrml_scene, RED, _ras(image, (size[0] // 2, size[1] // 2, 4)), "Red")

    assert slice_view.mark(mrml_scene, volume, green, "WT", PRESENT).index == 6
    where = slice_view.mark(mrml_scene, volume, red, "ET", ABSENT)
    assert (where.axis, where.index) == ("axial", 4)
    # First/last tumour slice in the Red view: 4..9 present, the rest absent.
    assert slice_view.set_range_end(mrml_scene, volume, red, "WT", first=True) == (4, 4)
    red9 = _view(mrml_scene, RED, _ras(image, (size[0] // 2, size[1] // 2, 9)), "Red9")
    assert slice_view.set_range_end(mrml_scene, volume, red9, "WT", first=False) == (4, 9)
    where, runs = slice_view.strip(mrml_scene, volume, red, "WT")
    assert runs == [(0, 3, "absent"), (4, 9, "present"), (10, size[2] - 1, "absent")]
    rectangles = slice_view.strip_rectangles(runs, where.n_slices, 300.0)
    assert [r[4] for r in rectangles] == [slice_view.COLOURS[k] for _a, _b, k in runs]
    assert rectangles[0][1] == 20.0 and rectangles[-1][3] == pytest.approx(280.0)
    assert all(a[3] == pytest.approx(b[1]) for a, b in zip(rectangles, rectangles[1:]))  # no gaps
    assert rectangles[1][1] < slice_view.marker_y(4, where.n_slices, 300.0) < rectangles[1][3]

    saved = WeakLabelStore.open(folder, create=False) if WeakLabelStore.exists(folder) else case.store
    assert unsaved_classes(mrml_scene, volume, saved) == ["ET", "WT"]
    save_case_labels(mrml_scene, volume, annotator="effect")
    store = WeakLabelStore.open(folder, create=False)
    assert unsaved_classes(mrml_scene, volume, store) == []
    assert store.slice_ranges("WT", "axial") == [(4, 9)]
    coronal = store.slice_labels("WT", "coronal")
    assert coronal[6] == PRESENT and (np.delete(coronal, 6) == UNKNOWN).all()
    assert store.slice_labels("ET", "axial")[4] == ABSENT
    assert store.annotator == "effect" and store.status == "partial"
    # The panel's Open case closes this case and reads the same labels back.
    reopened = logic.open_case(folder)
    assert logic.strip("WT", "axial") == runs
    assert reopened.reference is not volume and volume.GetScene() is None


def test_saving_needs_a_volume_opened_as_a_case(mrml_scene):
    volume = add_volume_from_image(mrml_scene, _image(), "loose")
    with pytest.raises(WeakSegError, match="not opened as a case"):
        save_case_labels(mrml_scene, volume)
