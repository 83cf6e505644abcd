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


def test_oar_result_becomes_coded_organ_segments(mrml_scene, tmp_path):
    from WeakSegOARLib.logic import WeakSegOARLogic

    grid = sitk.Image([30, 28, 10], sitk.sitkInt16)
    grid.SetSpacing((1.0, 1.0, 2.0))
    t1 = add_volume_from_image(mrml_scene, grid, "T1 MPRAGE")
    array = np.zeros((10, 28, 30), np.uint8)
    array[2:8, 10:18, 12:18] = 1
    array[5, 4:6, 14:16] = 2
    array[4:6, 20:22, 3:5] = 3
    labels = sitk.GetImageFromArray(array)
    labels.CopyInformation(grid)
    path = write_image(labels, tmp_path / "labels.nii.gz")
    result = {"outputs": {"labels": str(path)}, "labels": OAR_LABELS, "tumour": False,
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
