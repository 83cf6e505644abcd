"""Export from the panel's Logic: the segmentation node as it is now → RTSTRUCT / SEG referencing the series."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from weakseg_mrml.provenance import Provenance
from weakseg_mrml.segmentation import SegmentSpec, add_segment_from_mask, segmentation_from_labelmap
from weakseg_mrml.volumes import add_volume_from_image

LABELS = [
    {"name": "necrosis", "value": 1, "color": [1.0, 0.9, 0.3], "snomed_code": "6574001", "snomed_meaning": "Necrosis"},
    {"name": "edema", "value": 2, "color": [0.3, 0.7, 1.0], "snomed_code": "79654002", "snomed_meaning": "Edema"},
    {"name": "enhancing", "value": 4, "color": [0.9, 0.2, 0.2], "snomed_code": "86049000",
     "snomed_meaning": "Malignant neoplasm, primary"},
]


@pytest.fixture
def mr_study(mrml_scene, tmp_path):
    """An MR series on disk, its volume in the scene, and a tumour segmentation the user then edited."""
    from weakseg.rt.series import write_synthetic_series

    grid = sitk.Image([40, 36, 12], sitk.sitkInt16)
    grid.SetSpacing((1.0, 1.0, 3.0))
    grid.SetOrigin((-20.0, -18.0, 10.0))
    array = np.zeros((12, 36, 40), np.uint8)
    array[3:9, 8:28, 10:30] = 2
    array[4:8, 12:24, 14:26] = 4
    array[5:7, 15:21, 17:23] = 1
    labels = sitk.GetImageFromArray(array)
    labels.CopyInformation(grid)
    image = sitk.GetImageFromArray((array * 100 + 50).astype(np.int16))
    image.CopyInformation(grid)
    write_synthetic_series(image, tmp_path / "series", "MR")
    volume = add_volume_from_image(mrml_scene, image, "flair")
    node = segmentation_from_labelmap(mrml_scene, labels, [SegmentSpec.from_label(x, tumour=True) for x in LABELS],
                                      name="result", volume_node=volume,
                                      provenance=Provenance("default-tumour", "1.2.0", "cd" * 32))
    boost = np.zeros_like(array, bool)
    boost[5:7, 10:14, 30:34] = True  # a structure the user painted in the Segment Editor
    add_segment_from_mask(node, boost, labels, "boost", "GTV_Boost", (0.5, 0.1, 0.9))
    return node, tmp_path / "series", array, boost


def test_rtstruct_export_from_the_node_references_the_series(mr_study, tmp_path):
    from WeakSegOARLib.logic import WeakSegOARLogic

    node, series, _, _ = mr_study
    out = WeakSegOARLogic(node.GetScene()).export(node, series, tmp_path / "rt.dcm", "rtstruct", timeout=300)
    ds = pydicom.dcmread(out)
    assert ds.Modality == "RTSTRUCT"
    names = [roi.ROIName for roi in ds.StructureSetROISequence]
    assert len(names) == 4 and names[-1] == "GTV_Boost"  # the user's edit is exported too
    first = pydicom.dcmread(next(series.iterdir()))
    referenced = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == first.SeriesInstanceUID
    assert ds.StudyInstanceUID == first.StudyInstanceUID and ds.SeriesInstanceUID != first.SeriesInstanceUID
    descriptions = {str(roi.get("ROIGenerationDescription", "")) for roi in ds.StructureSetROISequence}
    assert any("default-tumour" in d for d in descriptions)


def test_seg_export_carries_every_segment(mr_study, tmp_path):
    from WeakSegTumorLib.logic import WeakSegTumorLogic

    node, series, array, boost = mr_study
    out = WeakSegTumorLogic(node.GetScene()).export(node, series, tmp_path / "seg.dcm", "seg", timeout=300)
    ds = pydicom.dcmread(out)
    assert ds.Modality == "SEG"
    assert len(ds.SegmentSequence) == 4


def test_export_without_reference_volume_is_refused(mrml_scene, tmp_path):
    from slicer import vtkMRMLSegmentationNode

    from WeakSegTumorLib.logic import WeakSegTumorLogic
    from weakseg.errors import WeakSegError

    node = vtkMRMLSegmentationNode()
    node.SetName("orphan")
    mrml_scene.AddNode(node)
    with pytest.raises(WeakSegError, match="'orphan' has no reference volume"):
        WeakSegTumorLogic(mrml_scene).start_export(node, tmp_path, tmp_path / "x.dcm")
