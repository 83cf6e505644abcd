"""WeakSegOAR's Logic turns an organ-at-risk result into organ segments (any OAR model card's labels)."""

from __future__ import annotations


import numpy as np
import SimpleITK as sitk

from weakseg.io.image import write_image
from weakseg_mrml.terminology import ORGAN_CATEGORY, Terminology
from weakseg_mrml.volumes import add_volume_from_image

OAR_LABELS = [  # as an OAR model card lists them
    {"name": "Brainstem", "value": 1, "color": [0.94, 0.78, 0.31], "snomed_code": "15926001", "snomed_meaning": "Brainstem"},
    {"name": "OpticChiasm", "value": 2, "color": [0.24, 0.63, 0.24], "snomed_code": "244453006",
     "snomed_meaning": "Optic chiasm"},
    {"name": "Cochlea_L", "value": 3, "color": [0.98, 0.47, 0.78], "snomed_code": "", "snomed_meaning": ""},
]


def _write_on(grid: sitk.Image, array: np.ndarray, path) -> str:
    """A labelmap file with ``array`` on ``grid``'s geometry, as a worker result names it."""
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(grid)
    return str(write_image(image, path))


def test_oar_result_becomes_coded_organ_segments(mrml_scene, tmp_path):
    from WeakSegOARLib.logic import WeakSegOARLogic

    grid = sitk.Image([30, 28, 10], sitk.sitkInt16)
    grid.SetSpacing((1.0, 1.0, 2.0))
    t1 = add_volume_from_image(mrml_scene, grid, "T1 MPRAGE")
    array = np.zeros((10, 28, 30), np.uint8)
    array[2:8, 10:18, 12:18] = 1
    array[5, 4:6, 14:16] = 2
    array[4:6, 20:22, 3:5] = 3
    path = _write_on(grid, array, tmp_path / "labels.nii.gz")
    result = {"outputs": {"labels": path}, "labels": OAR_LABELS, "tumour": False,
              "model": {"id": "oar-test", "sha256": "ef" * 32, "version": "0.1"},
              "parameters": {"device": "cpu"}, "provenance": {"device": "cpu"},
              "low_confidence_slices": [{"slice": 5, "z_mm": 10.0, "p": {"OpticChiasm": 0.5}}]}
    logic = WeakSegOARLogic(mrml_scene)
    node = logic.import_result(result, t1)
    segmentation = node.GetSegmentation()
    assert [segmentation.GetNthSegment(i).GetName() for i in range(3)] == ["Brainstem", "OpticChiasm", "Cochlea_L"]
    chiasm = Terminology.parse(segmentation.GetSegment("OpticChiasm").GetTerminology())
    assert chiasm.category == ORGAN_CATEGORY == ("SCT", "123037004", "Anatomical Structure")  # Slicer master list
    assert chiasm.type[1] == "244453006" and chiasm.region is None
    # No code in the card: no code is invented; the segment keeps Slicer's generic default ("Tissue").
    assert Terminology.parse(segmentation.GetSegment("Cochlea_L").GetTerminology()).type[1] == "85756007"
    assert node.GetAttribute("WeakSeg.ModelId") == "oar-test"
    assert logic.low_confidence_slices(node)[0]["p"] == {"OpticChiasm": 0.5}
    assert logic.slice_point(node, {"z_mm": 10.0})[2] == 10.0
    assert node.GetAttribute("WeakSeg.Outputs") is None  # no temporary path is saved with the scene


def _oar_node(mrml_scene, tmp_path):
    from WeakSegOARLib.logic import WeakSegOARLogic

    grid = sitk.Image([30, 28, 10], sitk.sitkInt16)
    t1 = add_volume_from_image(mrml_scene, grid, "T1c")
    array = np.zeros((10, 28, 30), np.uint8)
    array[2:6, 4:10, 4:10] = 1
    array[2:6, 4:10, 20:26] = 2
    array[6:9, 12:20, 12:18] = 3
    path = _write_on(grid, array, tmp_path / "labels.nii.gz")
    entries = [{"name": "Eye_L", "value": 1, "color": [0.2, 0.8, 0.2], "snomed_code": "81745001", "snomed_meaning": "Eye"},
               {"name": "Eye_R", "value": 2, "color": [0.1, 0.6, 0.1], "snomed_code": "81745001", "snomed_meaning": "Eye"},
               {"name": "Brainstem", "value": 3, "color": [0.6, 0.4, 0.8], "snomed_code": "119238007",
                "snomed_meaning": "Brain stem"}]
    result = {"outputs": {"labels": path}, "labels": entries, "tumour": False,
              "model": {"id": "default-oar", "sha256": "ab" * 32, "version": "1.0.0"}, "parameters": {}, "provenance": {}}
    logic = WeakSegOARLogic(mrml_scene)
    return logic, logic.import_result(result, t1)


def test_lateral_organs_carry_their_side_in_the_terminology(mrml_scene, tmp_path):
    _, node = _oar_node(mrml_scene, tmp_path)
    segmentation = node.GetSegmentation()
    left = Terminology.parse(segmentation.GetSegment("Eye_L").GetTerminology())
    right = Terminology.parse(segmentation.GetSegment("Eye_R").GetTerminology())
    assert left.type[1] == right.type[1] == "81745001"
    assert left.type_modifier == ("SCT", "7771000", "Left") and right.type_modifier == ("SCT", "24028007", "Right")
    assert Terminology.parse(segmentation.GetSegment("Brainstem").GetTerminology()).type_modifier is None


def test_organ_review_is_stored_on_the_node_and_exported_as_csv(mrml_scene, tmp_path):
    import csv

    import pytest

    from weakseg.errors import WeakSegError

    logic, node = _oar_node(mrml_scene, tmp_path)
    assert logic.review_scale == ("accepted", "minor edit", "major edit", "rejected")
    logic.rate(node, "Eye_L", "accepted")
    logic.rate(node, "Brainstem", "major edit")
    with pytest.raises(WeakSegError, match="unknown rating"):
        logic.rate(node, "Eye_R", "fine")
    with pytest.raises(WeakSegError, match="no segment"):
        logic.rate(node, "Lens_L", "accepted")
    assert logic.ratings(node) == {"Brainstem": "major edit", "Eye_L": "accepted"}
    # saved with the scene: the rating is a node attribute, so it survives a scene save/load
    assert "major edit" in node.GetAttribute("WeakSeg.OrganReview")
    rows = list(csv.DictReader(open(logic.export_review(node, tmp_path / "review.csv"))))
    assert [(r["organ"], r["rating"]) for r in rows] == [("Eye_L", "accepted"), ("Eye_R", ""), ("Brainstem", "major edit")]
    assert {r["model"] for r in rows} == {"default-oar"}


def test_the_preprocessing_brain_mask_is_an_outlined_segment_of_its_own_and_goes_with_a_rerun(mrml_scene, tmp_path):
    from WeakSegTumorLib.logic import WeakSegTumorLogic

    from weakseg_mrml.segment_logic import PREPROCESSING_MASK_ROLE
    from weakseg_mrml.segmentation import segment_mask
    from weakseg_mrml.volumes import image_from_volume

    grid = sitk.Image([30, 28, 10], sitk.sitkInt16)
    grid.SetSpacing((0.9, 0.9, 5.0))
    t1c = add_volume_from_image(mrml_scene, grid, "T1c")
    tumour = np.zeros((10, 28, 30), np.uint8)
    tumour[4:6, 10:14, 10:14] = 4
    brain = np.zeros((10, 28, 30), np.uint8)
    brain[1:9, 3:25, 3:27] = 1
    files = {kind: _write_on(grid, array, tmp_path / f"{kind}.nii.gz")
             for kind, array in (("labels", tumour), ("brain", brain))}
    labels = [{"name": "enhancing", "value": 4, "color": [1, 1, 0], "snomed_code": "", "snomed_meaning": ""}]
    result = {"outputs": files, "labels": labels, "tumour": True, "model": {"id": "default-tumour-t1c", "version": "1"},
              "parameters": {}, "provenance": {}}
    logic = WeakSegTumorLogic(mrml_scene)
    node = logic.import_result(result, t1c)
    mask = logic.brain_mask(node)
    assert mask is not None and mask is not node
    assert mask.GetAttribute("WeakSeg.Role") == PREPROCESSING_MASK_ROLE != node.GetAttribute("WeakSeg.Role")
    assert node.GetSegmentation().GetNumberOfSegments() == 1  # the tumour result (what is exported) has no brain
    segment = mask.GetSegmentation().GetSegment("brain")
    assert segment.GetName() == "Brain mask" and "12738006" in segment.GetTerminology()
    assert mask.GetDisplayNode().GetOpacity2DFill() == 0.0 and not mask.GetDisplayNode().GetVisibility3D()
    assert int(segment_mask(mask, "brain", image_from_volume(t1c)).sum()) == int(brain.sum())
    again = logic.import_result({**result, "outputs": {"labels": files["labels"]}}, t1c, output_node=node)
    assert again is node and logic.brain_mask(node) is None and mrml_scene.GetNodeByID(mask.GetID()) is None



def test_weaksegoar_segments_a_head_with_default_oar_and_exports_a_dciodvfy_clean_rtstruct(mrml_scene, tmp_path):
    """Issue 15's acceptance in the MRML tests: the panel's Logic runs the shipped default-oar on a phantom
    head (real worker), every organ becomes a coded segment with its side, and the RTSTRUCT exported from
    the node references the series and passes dicom3tools' validator."""
    import sys
    from pathlib import Path

    import pydicom
    import pytest

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dicom"))
    from rt_helpers import dciodvfy_errors, need  # noqa: E402

    from WeakSegOARLib.logic import WeakSegOARLogic
    from weakseg.phantom.config import PhantomConfig
    from weakseg.phantom.head_oar import make_head_case
    from weakseg.rt.series import write_synthetic_series

    need("dciodvfy")
    logic = WeakSegOARLogic(mrml_scene, worker_env={"OMP_NUM_THREADS": "1"})
    model = next((m for m in logic.models() if m.id == "default-oar"), None)
    if model is None:
        pytest.skip("default-oar is not shipped in this checkout")
    head = make_head_case(PhantomConfig(seed=7, physiology=False))
    write_synthetic_series(head.images["t1"], tmp_path / "series", "MR")
    volume = add_volume_from_image(mrml_scene, head.images["t1"], "T1 head")
    node = logic.segment({"t1": volume}, model, device="cpu", timeout=900)

    segmentation = node.GetSegmentation()
    names = [segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())]
    assert {"Brainstem", "Eye_L", "Eye_R", "OpticChiasm"} <= set(names), names
    for i in range(segmentation.GetNumberOfSegments()):
        terminology = Terminology.parse(segmentation.GetNthSegment(i).GetTerminology())
        assert terminology.category[1] == ORGAN_CATEGORY[1]
    out = logic.export(node, tmp_path / "series", tmp_path / "rtstruct.dcm", "rtstruct", timeout=600)
    iod, errors = dciodvfy_errors(out)
    assert iod == "RTStructureSet" and errors == [], errors
    ds = pydicom.dcmread(out)
    series = pydicom.dcmread(next((tmp_path / "series").iterdir()))
    assert ds.PatientID == series.PatientID and ds.StudyInstanceUID == series.StudyInstanceUID
    exported = {roi.ROIName for roi in ds.StructureSetROISequence}
    assert exported == set(names)
    assert {o.RTROIInterpretedType for o in ds.RTROIObservationsSequence} == {"ORGAN"}
