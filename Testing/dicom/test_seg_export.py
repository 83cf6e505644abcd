"""DICOM SEG export: dciodvfy, and highdicom reading back the frames and codes."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk

from rt_helpers import dciodvfy_errors, synthetic_case  # noqa: F401  (synthetic_case is a fixture)
from weakseg.cli import main
from weakseg.rt.series import read_reference_series


def test_seg_valid_and_round_trips(synthetic_case, tmp_path):
    orientation, series_dir, labels = synthetic_case
    sitk.WriteImage(labels, str(tmp_path / "labels.nrrd"))
    out = tmp_path / "seg.dcm"
    assert main(["export-seg", "--labels", str(tmp_path / "labels.nrrd"), "--reference", str(series_dir), "--out", str(out),
                 "--model-name", "WeakSeg-test", "--model-version", "9"]) == 0
    iod, errors = dciodvfy_errors(out)
    assert iod == "Segmentation" and errors == []
    seg = hd.seg.segread(out)
    series = read_reference_series(series_dir)
    assert seg.StudyInstanceUID == series.study_uid and seg.FrameOfReferenceUID == series.frame_of_reference_uid
    assert seg.SeriesInstanceUID != series.series_uid
    labels_by_number = {d.SegmentNumber: d for d in seg.SegmentSequence}
    assert [labels_by_number[n].SegmentLabel for n in (1, 2, 3)] == ["GTV_Necrosis", "CTV_Edema", "GTV_Enhancing"]
    assert labels_by_number[2].SegmentedPropertyTypeCodeSequence[0].CodeValue == "79654002"
    assert labels_by_number[2].SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert labels_by_number[1].SegmentAlgorithmName == "WeakSeg-test"
    arr = sitk.GetArrayFromImage(labels)
    pixels = seg.get_pixels_by_source_instance(series.sop_uids, segment_numbers=[1, 2, 3])
    for number, value in zip((1, 2, 3), (1, 2, 4)):
        assert np.array_equal(pixels[..., number - 1] > 0, arr == value), number
    assert pydicom.dcmread(out).Modality == "SEG"
