"""The clinician's flow in a real MRML scene on a real BraTS case: channels + core/FLAIR segments → Apply → τ.

BraTS has no physiological maps and no infiltration truth: ROI1 = TC and FLAIR = WT, and the
model is a structural-channel one (the prior's loud fallback). This checks the flow, not accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import BRATS
from weakseg import brats
from weakseg.errors import WeakSegError
from weakseg.io.case import load_case
from weakseg.models.registry import load_model
from weakseg_mrml.infiltration import InfiltrationLogic
from weakseg_mrml.tags import get_tag
from weakseg_mrml.segmentation import add_segment_from_mask, segment_mask, set_reference_geometry
from weakseg_mrml.volumes import add_volume_from_image

CASE = BRATS / "Brats18_2013_11_1"
pytestmark = pytest.mark.skipif(not CASE.is_dir(), reason="needs ../shared/data/brats18")


def _scene_case(scene):
    from slicer import vtkMRMLSegmentationNode

    case = load_case(CASE)
    nodes = {name: add_volume_from_image(scene, image, name.upper()) for name, image in case.images.items()}
    regions = brats.regions(sitk.GetArrayFromImage(case.labels))
    masks = vtkMRMLSegmentationNode()
    masks.SetName("Drawn masks")
    scene.AddNode(masks)
    masks.CreateDefaultDisplayNodes()
    set_reference_geometry(masks, case.grid, nodes["flair"])
    add_segment_from_mask(masks, regions["TC"], case.grid, "core", "Enhancing core", (1, 0, 0))
    add_segment_from_mask(masks, regions["WT"], case.grid, "flair", "FLAIR abnormality", (0, 0, 1))
    return case, nodes, masks, regions


def test_apply_and_tau_slider_on_a_brats_case(mrml_scene, structural_model):
    case, nodes, masks, regions = _scene_case(mrml_scene)
    model = load_model(structural_model)
    logic = InfiltrationLogic(mrml_scene)
    out = logic.apply(model, nodes, masks, tau=0.3, device="cpu")
    assert any("NOT paper 000's method" in w for w in out.result.warnings)  # structural fallback is said loudly
    seg = out.segmentation_node.GetSegmentation()
    names = [seg.GetSegment(seg.GetNthSegmentID(i)).GetName() for i in range(seg.GetNumberOfSegments())]
    assert names == ["Core tumour", "Infiltrated tumour", "Non-infiltrated oedema"]
    assert get_tag(seg.GetSegment("Infiltrated tumour"), "WeakSeg.RTROIInterpretedType") == "CTV"
    p = sitk.GetArrayFromImage(_image(out.probability_node))
    assert p.shape == regions["WT"].shape and 0 <= p.min() and p.max() <= 1
    roi2 = regions["WT"] & ~regions["TC"]
    low_infil = segment_mask(out.segmentation_node, "Infiltrated tumour", case.grid)
    low_oedema = segment_mask(out.segmentation_node, "Non-infiltrated oedema", case.grid)
    assert np.array_equal(low_infil | low_oedema, roi2) and not (low_infil & low_oedema).any()
    assert np.array_equal(low_infil, (p >= 0.3) & roi2)
    low_table = logic.table_rows(out.table_node)
    voxel_cm3 = float(np.prod(case.grid.GetSpacing())) / 1000
    assert abs(low_table["Infiltrated tumour"] - low_infil.sum() * voxel_cm3) < 1e-3
    assert abs(low_table["FLAIR minus core (ROI2)"] - roi2.sum() * voxel_cm3) < 1e-3

    tau = float(np.quantile(p[roi2], 0.5)) + 1e-4  # a slider position that moves about half of ROI2
    logic.set_tau(out, tau)
    high_infil = segment_mask(out.segmentation_node, "Infiltrated tumour", case.grid)
    high_table = logic.table_rows(out.table_node)
    assert np.array_equal(high_infil, (p >= tau) & roi2)
    assert high_infil.sum() < low_infil.sum() or tau <= 0.3
    assert high_table["Infiltrated tumour"] != low_table["Infiltrated tumour"]
    assert abs(high_table["Infiltrated tumour"] + high_table["Non-infiltrated oedema"]
               - high_table["FLAIR minus core (ROI2)"]) < 2e-3
    assert out.segmentation_node.GetAttribute("WeakSeg.InfiltrationTau") == f"{tau:g}"


def test_the_three_segments_export_as_gtv_ctv_candidate_and_control(mrml_scene, structural_model, tmp_path):
    """The Infiltration section's Export RTSTRUCT: the segments' type tags reach the structure set."""
    import pydicom

    from weakseg.rt.series import write_synthetic_series
    from weakseg_mrml.segment_logic import SegmentLogic

    case, nodes, masks, _regions = _scene_case(mrml_scene)
    out = InfiltrationLogic(mrml_scene).apply(load_model(structural_model), nodes, masks, tau=0.3, device="cpu")
    reference = out.segmentation_node.GetNodeReference(out.segmentation_node.GetReferenceImageGeometryReferenceRole())
    name = next(n for n, node in nodes.items() if node is reference)
    write_synthetic_series(case.images[name], tmp_path / "series", "MR")
    path = SegmentLogic(mrml_scene).export(out.segmentation_node, tmp_path / "series", tmp_path / "rt.dcm", "rtstruct",
                                           timeout=300)
    ds = pydicom.dcmread(path)
    names = {roi.ROINumber: roi.ROIName for roi in ds.StructureSetROISequence}
    types = {names[o.ReferencedROINumber]: o.RTROIInterpretedType for o in ds.RTROIObservationsSequence}
    assert types == {"Core tumour": "GTV", "Infiltrated tumour": "CTV", "Non-infiltrated oedema": "CONTROL"}


def _image(node):
    from weakseg_mrml.volumes import image_from_volume

    return image_from_volume(node)


def test_missing_channel_and_missing_segment_are_refused(mrml_scene, structural_model):
    _case, nodes, masks, _ = _scene_case(mrml_scene)
    model = load_model(structural_model)
    logic = InfiltrationLogic(mrml_scene)
    with pytest.raises(WeakSegError, match="t1c"):
        logic.apply(model, {k: v for k, v in nodes.items() if k != "t1c"}, masks, device="cpu")
    masks.GetSegmentation().RemoveSegment("flair")
    with pytest.raises(WeakSegError, match="no segment named 'flair abnormality'"):
        logic.apply(model, nodes, masks, device="cpu")


def _node_count(scene) -> int:
    return scene.GetNumberOfNodes()


def test_a_channel_on_another_grid_and_a_core_outside_flair_are_refused_and_add_nothing(mrml_scene, structural_model):
    case, nodes, masks, regions = _scene_case(mrml_scene)
    model = load_model(structural_model)
    logic = InfiltrationLogic(mrml_scene)
    coarse = sitk.Resample(case.images["t2"], [120, 120, 78], sitk.Transform(), sitk.sitkLinear,
                           case.images["t2"].GetOrigin(), [2.0, 2.0, 2.0], case.images["t2"].GetDirection())
    moved = {**nodes, "t2": add_volume_from_image(mrml_scene, coarse, "T2 2mm")}
    before = _node_count(mrml_scene)
    with pytest.raises(WeakSegError, match="channel 't2'.*different grid"):
        logic.apply(model, moved, masks, device="cpu")
    assert _node_count(mrml_scene) == before  # refused before anything is computed or added

    outside = np.zeros_like(regions["WT"])
    outside[5:8, 5:8, 5:8] = True  # a corner of the head, nowhere near the FLAIR abnormality
    add_segment_from_mask(masks, regions["TC"] | outside, case.grid, "core", "Enhancing core", (1, 0, 0))
    with pytest.raises(WeakSegError, match="27 of .* core voxels lie outside the FLAIR mask"):
        logic.apply(model, nodes, masks, device="cpu")
    assert _node_count(mrml_scene) == before


def test_channels_assigned_by_name_and_masks_from_a_tumour_result(mrml_scene, structural_model):
    """Volumes named as BraTS files are assigned; a tumour model's result (necrosis/edema/enhancing) gives the masks."""
    from slicer import vtkMRMLSegmentationNode

    case = load_case(CASE)
    for name, image in case.images.items():
        add_volume_from_image(mrml_scene, image, f"{case.case_id}_{'t1ce' if name == 't1c' else name}")
    logic = InfiltrationLogic(mrml_scene)
    model = load_model(structural_model)
    nodes = logic.auto_assign(model)
    assert {k: v.GetName() for k, v in nodes.items()} == {n: f"{case.case_id}_{s}" for n, s in (
        ("t1", "t1"), ("t1c", "t1ce"), ("t2", "t2"), ("flair", "flair"))}
    labels = sitk.GetArrayFromImage(case.labels)
    result = vtkMRMLSegmentationNode()
    mrml_scene.AddNode(result)
    for key, value in (("necrosis", 1), ("edema", 2), ("enhancing", 4)):
        add_segment_from_mask(result, labels == value, case.grid, key, key.capitalize(), (1, 1, 0))
    inputs = logic.inputs(model, nodes, result)
    regions = brats.regions(labels)
    assert np.array_equal(inputs.core, regions["TC"]) and np.array_equal(inputs.flair, regions["WT"])
