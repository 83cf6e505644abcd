"""Slice labels (table nodes) and scribbles (tagged segments) round-trip scene ⇄ weak-label store on disk."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from slicer import vtkMRMLSubjectHierarchyNode

from weakseg.errors import WeakSegError
from weakseg.labels import ABSENT, BACKGROUND, FOREGROUND, PRESENT, UNKNOWN, WeakLabelStore
from weakseg_mrml import scribbles as scr
from weakseg_mrml import slice_labels as sl
from weakseg_mrml.segmentation import add_segment_from_mask
from weakseg_mrml.volumes import add_volume_from_image


def _image(direction=(1, 0, 0, 0, 1, 0, 0, 0, 1), size=(16, 14, 10)) -> sitk.Image:
    image = sitk.Image(list(size), sitk.sitkInt16)
    image.SetSpacing((1.0, 1.2, 2.0))
    image.SetOrigin((-8.0, -7.0, 3.0))
    image.SetDirection(direction)
    return image


def test_slice_labels_round_trip_store_scene_store(mrml_scene, tmp_path):
    image = _image()
    store = WeakLabelStore.open(tmp_path / "case", grid=image)
    store.set_slice_range("WT", "axial", 3, 6)
    store.set_slice_label("ET", "axial", 5, PRESENT)
    store.save()

    volume = add_volume_from_image(mrml_scene, image, "flair")
    sh = vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(mrml_scene)
    study = sh.CreateStudyItem(sh.CreateSubjectItem(sh.GetSceneItemID(), "P"), "MR")
    sh.SetItemParent(sh.GetItemByDataNode(volume), study)
    table = sl.table_from_store(mrml_scene, WeakLabelStore.open(tmp_path / "case"), volume, "axial")
    assert sh.GetItemParent(sh.GetItemByDataNode(table)) == study  # kept with the study it labels
    assert table.GetNumberOfRows() == 10
    assert sl.classes(table) == ["WT", "ET"]
    assert np.array_equal(sl.get_labels(table, "WT"), store.slice_labels("WT", "axial"))
    assert table.GetCellText(4, table.GetColumnIndex("WT")) == "present"
    assert sl.find_table(mrml_scene, volume, "axial") is table  # found by role, axis and volume, not by name

    # The annotator scrolls and marks slices with the keyboard, and sets a range for a new class.
    sl.set_label(table, "ET", 6, PRESENT)
    sl.set_label(table, "ET", 0, ABSENT)
    sl.set_range(table, "TC", 4, 6)
    reopened = WeakLabelStore.open(tmp_path / "case")
    sl.store_from_table(table, reopened)
    reopened.save()
    final = WeakLabelStore.open(tmp_path / "case")
    expected_et = np.full(10, UNKNOWN, np.int8)
    expected_et[[5, 6]] = PRESENT
    expected_et[0] = ABSENT
    assert np.array_equal(final.slice_labels("ET", "axial"), expected_et)
    assert final.slice_ranges("TC", "axial") == [(4, 6)]
    assert final.slice_ranges("WT", "axial") == [(3, 6)]
    assert sl.strip(table, "ET") == [(0, 0, "absent"), (1, 4, "unknown"), (5, 6, "present"), (7, 9, "unknown")]


def test_an_untouched_class_column_stays_unknown_in_the_store(mrml_scene, tmp_path):
    image = _image()
    volume = add_volume_from_image(mrml_scene, image, "flair")
    table = sl.get_or_create_table(mrml_scene, volume, "axial", 10)
    sl.set_labels(table, "WT", np.full(10, UNKNOWN))
    store = WeakLabelStore.open(tmp_path / "case", grid=image)
    sl.store_from_table(table, store)
    assert store.known_classes("slices", "axial") == []


def test_slice_index_follows_the_patient_axis_of_a_sagittal_series(mrml_scene):
    # Index axes: i → anterior-posterior, j → superior-inferior, k → left-right (a sagittal acquisition).
    image = _image(direction=(0, 0, 1, 1, 0, 0, 0, -1, 0), size=(12, 20, 8))
    volume = add_volume_from_image(mrml_scene, image, "t1")
    lps = image.TransformIndexToPhysicalPoint((5, 13, 2))
    ras = (-lps[0], -lps[1], lps[2])
    assert sl.slice_index_at(volume, ras, "axial") == 13  # axial slices run along j
    assert sl.slice_index_at(volume, ras, "sagittal") == 2
    assert sl.slice_index_at(volume, ras, "coronal") == 5
    with pytest.raises(WeakSegError, match="outside volume 't1'"):
        sl.slice_index_at(volume, (500.0, 0.0, 0.0), "sagittal")


def test_table_on_another_grid_is_refused(mrml_scene, tmp_path):
    store = WeakLabelStore.open(tmp_path / "case", grid=_image())
    volume = add_volume_from_image(mrml_scene, _image(size=(16, 14, 11)), "other")
    with pytest.raises(WeakSegError, match="not on the grid"):
        sl.table_from_store(mrml_scene, store, volume)


def _strokes(shape):
    fg = np.zeros(shape, bool)
    bg = np.zeros(shape, bool)
    fg[4, 5:8, 6:10] = True
    bg[4, 1:3, 1:12] = True
    bg[7, :, 2] = True
    return fg, bg


def test_scribbles_round_trip_scene_store_scene(mrml_scene, tmp_path):
    image = _image()
    volume = add_volume_from_image(mrml_scene, image, "flair")
    node = scr.get_or_create_scribble_node(mrml_scene, volume)
    fg, bg = _strokes((10, 14, 16))
    for cls, offset in (("WT", 0), ("ET", 1)):
        ids = scr.ensure_class_segments(node, cls)
        segment = node.GetSegmentation().GetSegment(ids["foreground"])
        tags = {t: scr.get_tag(segment, t) for t in (scr.SEGMENT_ROLE_TAG, scr.CLASS_TAG, scr.POLARITY_TAG)}
        add_segment_from_mask(node, np.roll(fg, offset, axis=2), image, ids["foreground"], segment.GetName(),
                              segment.GetColor(), tags)
        segment = node.GetSegmentation().GetSegment(ids["background"])
        tags = {t: scr.get_tag(segment, t) for t in (scr.SEGMENT_ROLE_TAG, scr.CLASS_TAG, scr.POLARITY_TAG)}
        add_segment_from_mask(node, bg, image, ids["background"], segment.GetName(), segment.GetColor(), tags)
    # Users rename segments: tags, not names, say what a segment holds.
    node.GetSegmentation().GetSegment(scr.scribble_segment_id(node, "WT", "background")).SetName("my bg")

    store = WeakLabelStore.open(tmp_path / "case", grid=image)
    assert scr.store_from_scribbles(node, store, volume) == ["WT", "ET"]
    store.save()
    reopened = WeakLabelStore.open(tmp_path / "case")
    wt = reopened.scribbles("WT")
    assert np.array_equal(wt == FOREGROUND, fg)
    assert np.array_equal(wt == BACKGROUND, bg)
    assert np.array_equal(reopened.scribbles("ET") == FOREGROUND, np.roll(fg, 1, axis=2))

    mrml_scene.RemoveNode(node)
    shown = scr.scribbles_from_store(mrml_scene, reopened, volume)
    assert shown is not node and scr.scribble_classes(shown) == ["WT", "ET"]
    assert np.array_equal(scr.scribble_labels(shown, "WT", image), wt)


def test_contradictory_strokes_become_unknown(mrml_scene, tmp_path):
    image = _image()
    volume = add_volume_from_image(mrml_scene, image, "flair")
    node = scr.get_or_create_scribble_node(mrml_scene, volume)
    ids = scr.ensure_class_segments(node, "WT")
    fg, _ = _strokes((10, 14, 16))
    for polarity in ("foreground", "background"):  # the same stroke painted with both polarities
        segment = node.GetSegmentation().GetSegment(ids[polarity])
        tags = {t: scr.get_tag(segment, t) for t in (scr.SEGMENT_ROLE_TAG, scr.CLASS_TAG, scr.POLARITY_TAG)}
        add_segment_from_mask(node, fg, image, ids[polarity], segment.GetName(), segment.GetColor(), tags)
    assert (scr.scribble_labels(node, "WT", image) == UNKNOWN).all()
