"""Results → segmentation nodes: names, colours, terminology, geometry, SH parent, provenance, .seg.nrrd."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from slicer import vtkMRMLSubjectHierarchyNode, vtkSlicerSegmentationsModuleLogic

from weakseg.errors import WeakSegError
from weakseg_mrml.provenance import Provenance, read_provenance
from weakseg_mrml.segmentation import SegmentSpec, labelmap_from_segmentation, segment_mask, segmentation_from_labelmap
from weakseg_mrml.storage import load_segmentation, save_segmentation
from weakseg_mrml.terminology import Terminology
from weakseg_mrml.volumes import add_volume_from_image

LABELS = [  # as a model card lists them (BraTS 2018 values)
    {"name": "necrosis", "value": 1, "color": [1.0, 0.9, 0.3], "snomed_code": "6574001", "snomed_meaning": "Necrosis"},
    {"name": "edema", "value": 2, "color": [0.3, 0.7, 1.0], "snomed_code": "79654002", "snomed_meaning": "Edema"},
    {"name": "enhancing", "value": 4, "color": [0.9, 0.2, 0.2], "snomed_code": "86049000",
     "snomed_meaning": "Malignant neoplasm, primary"},
]


def _grid() -> sitk.Image:
    image = sitk.Image([20, 18, 12], sitk.sitkFloat32)
    image.SetSpacing((1.1, 0.9, 2.5))
    image.SetOrigin((90.0, 110.0, -40.0))
    image.SetDirection((-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))  # RAS-stored (NIfTI-like) grid
    return image


def _labels(grid: sitk.Image) -> sitk.Image:
    array = np.zeros(tuple(reversed(grid.GetSize())), np.uint8)
    array[3:9, 4:14, 5:15] = 2
    array[4:8, 6:12, 7:13] = 4
    array[5:7, 8:10, 9:11] = 1
    labels = sitk.GetImageFromArray(array)
    labels.CopyInformation(grid)
    return labels


def _study_volume(scene, grid):
    volume = add_volume_from_image(scene, grid, "flair")
    sh = vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    patient = sh.CreateSubjectItem(sh.GetSceneItemID(), "Patient 1")
    study = sh.CreateStudyItem(patient, "MR brain")
    sh.SetItemParent(sh.GetItemByDataNode(volume), study)
    return volume, sh, study


def _result(scene):
    grid = _grid()
    volume, sh, study = _study_volume(scene, grid)
    labels = _labels(grid)
    specs = [SegmentSpec.from_label(label, tumour=True) for label in LABELS]
    provenance = Provenance("default-tumour", "1.0.0", "ab" * 32, {"tta": True, "batch": 4}, device="cpu")
    node = segmentation_from_labelmap(scene, labels, specs, name="flair tumour", volume_node=volume, provenance=provenance)
    return node, volume, labels, sh, study, provenance


def test_segments_have_names_colours_and_terminology(mrml_scene):
    node, *_ = _result(mrml_scene)
    segmentation = node.GetSegmentation()
    assert [segmentation.GetNthSegmentID(i) for i in range(3)] == ["necrosis", "edema", "enhancing"]
    edema = segmentation.GetSegment("edema")
    assert edema.GetName() == "Edema"
    np.testing.assert_allclose(edema.GetColor(), (0.3, 0.7, 1.0))
    term = Terminology.parse(edema.GetTerminology())
    assert term.type == ("SCT", "79654002", "Edema")
    assert term.category == ("SCT", "49755003", "Morphologically Altered Structure")
    assert term.region == ("SCT", "12738006", "Brain")
    status = vtkSlicerSegmentationsModuleLogic.GetSegmentStatus(edema)
    assert status == vtkSlicerSegmentationsModuleLogic.InProgress  # AI output awaits review
    assert segmentation.GetNumberOfLayers() == 1  # disjoint classes share one labelmap layer


def test_masks_and_labelmap_come_back_exactly(mrml_scene):
    node, volume, labels, *_ = _result(mrml_scene)
    array = sitk.GetArrayViewFromImage(labels)
    assert np.array_equal(segment_mask(node, "enhancing", labels), array == 4)
    back = labelmap_from_segmentation(node, labels)
    assert np.array_equal(sitk.GetArrayViewFromImage(back), array)
    np.testing.assert_allclose(back.GetOrigin(), labels.GetOrigin())


def test_reference_geometry_and_study_parent(mrml_scene):
    node, volume, labels, sh, study, _ = _result(mrml_scene)
    role = node.GetReferenceImageGeometryReferenceRole()
    assert node.GetNodeReferenceID(role) == volume.GetID()
    assert sh.GetItemParent(sh.GetItemByDataNode(node)) == study


def test_provenance_on_node_and_segments(mrml_scene):
    node, *_, provenance = _result(mrml_scene)
    assert node.GetAttribute("WeakSeg.ModelSHA256") == "ab" * 32
    assert json.loads(node.GetAttribute("WeakSeg.Params")) == {"batch": 4, "tta": True}
    assert read_provenance(node) == provenance
    assert read_provenance(node.GetSegmentation().GetSegment("necrosis")) == provenance


def test_seg_nrrd_round_trip_keeps_everything(mrml_scene, tmp_path):
    node, volume, labels, *_, provenance = _result(mrml_scene)
    path = save_segmentation(node, tmp_path / "result.seg.nrrd")
    loaded = load_segmentation(mrml_scene, path)
    segmentation = loaded.GetSegmentation()
    assert [segmentation.GetNthSegment(i).GetName() for i in range(3)] == ["Necrosis", "Edema", "Enhancing"]
    np.testing.assert_allclose(segmentation.GetSegment("enhancing").GetColor(), (0.9, 0.2, 0.2), atol=1e-6)
    assert Terminology.parse(segmentation.GetSegment("enhancing").GetTerminology()).type[1] == "86049000"
    assert Terminology.parse(segmentation.GetSegment("enhancing").GetTerminology()).type[2] == "Neoplasm, Primary"
    assert read_provenance(segmentation.GetSegment("edema")) == provenance
    back = labelmap_from_segmentation(loaded, labels)
    assert np.array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(labels))
    # ITK reads the same file on the same grid: the file's geometry is right, not only self-consistent.
    itk = sitk.ReadImage(str(path))
    np.testing.assert_allclose(itk.GetSpacing(), labels.GetSpacing(), atol=1e-6)


def test_unknown_label_value_is_refused(mrml_scene):
    grid = _grid()
    labels = _labels(grid)
    with pytest.raises(WeakSegError, match=r"values \[4\] that no class describes"):
        segmentation_from_labelmap(mrml_scene, labels, [SegmentSpec.from_label(x, tumour=True) for x in LABELS[:2]],
                                   name="bad")
    assert mrml_scene.GetNodesByClass("vtkMRMLSegmentationNode").GetNumberOfItems() == 0  # nothing half-made


def test_result_on_another_grid_is_refused(mrml_scene):
    grid = _grid()
    volume = add_volume_from_image(mrml_scene, grid, "flair")
    labels = _labels(grid)
    labels.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(WeakSegError, match="does not match volume 'flair'"):
        segmentation_from_labelmap(mrml_scene, labels, [SegmentSpec.from_label(x, tumour=True) for x in LABELS],
                                   name="bad", volume_node=volume)
