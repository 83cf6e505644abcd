"""Export inputs: .seg.nrrd (single and layered), names JSON, CLI, and bad inputs that must write nothing."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from rt_helpers import dciodvfy_errors, files_in, write_seg_nrrd, synthetic_case  # noqa: F401  (synthetic_case is a fixture)
from weakseg.cli import main
from weakseg.errors import WeakSegError
from weakseg.rt.reference import ExpectedIdentity
from weakseg.rt import export_rtstruct
from weakseg.rt.rtstruct_read import read_rtstruct


def _roi_names(path) -> list[str]:
    return [r.ROIName for r in pydicom.dcmread(path).StructureSetROISequence]


def test_cli_export_with_names_json_and_provenance(synthetic_case, tmp_path):
    _, series_dir, labels = synthetic_case
    sitk.WriteImage(labels, str(tmp_path / "labels.nii.gz"))
    names = {"1": "Brain_Stem", "2": {"name": "PTV_60", "colour": [10, 20, 30], "type": "PTV"}, "4": "Parotid-Lt"}
    (tmp_path / "names.json").write_text(json.dumps(names))
    out = tmp_path / "rt.dcm"
    rc = main(["export-rtstruct", "--labels", str(tmp_path / "labels.nii.gz"), "--reference", str(series_dir),
               "--out", str(out), "--names-json", str(tmp_path / "names.json"), "--model-name", "BraTS-net",
               "--model-version", "2.0", "--min-area-mm2", "2", "--tolerance-mm", "0.2"])
    assert rc == 0 and dciodvfy_errors(out)[1] == []
    ds = pydicom.dcmread(out)
    assert _roi_names(out) == ["Brainstem", "PTV_60", "Parotid_L"]  # variants mapped to TG-263
    assert [o.RTROIInterpretedType for o in ds.RTROIObservationsSequence] == ["ORGAN", "PTV", "ORGAN"]
    assert "RTROIIdentificationCodeSequence" not in ds.RTROIObservationsSequence[1]
    assert list(ds.ROIContourSequence[1].ROIDisplayColor) == [10, 20, 30]
    assert ds.StructureSetROISequence[0].ROIGenerationDescription == "BraTS-net 2.0"


def test_seg_nrrd_layers_with_overlap(synthetic_case, tmp_path):
    """Two overlapping segments on two layers of a Slicer .seg.nrrd both survive as ROIs."""
    _, series_dir, labels = synthetic_case
    arr = sitk.GetArrayFromImage(labels)
    layered = np.zeros(arr.shape + (2,), dtype=np.uint8)
    layered[..., 0][arr == 2] = 1
    layered[..., 0][arr == 4] = 2
    layered[..., 1][(arr == 1) | (arr == 2)] = 1  # overlaps segment 0
    seg = write_seg_nrrd(tmp_path / "x.seg.nrrd", layered, labels,
                         [("Parotid-Rt", 1, 0, "0.2 0.4 0.6"), ("Tumour", 2, 0, "1 0 0"), ("Tumour core+edema", 1, 1, "0 1 0")])
    out = export_rtstruct(seg, None, series_dir, tmp_path / "rt.dcm")
    assert _roi_names(out) == ["Parotid_R", "Tumour", "Tumour core+edema"]
    rois, _ = read_rtstruct(out, series_dir)
    assert np.array_equal(rois[0].mask, arr == 2)
    assert np.array_equal(rois[2].mask, (arr == 1) | (arr == 2))
    assert rois[1].colour == (255, 0, 0)


def test_seg_nrrd_cropped_extent_is_resampled(synthetic_case, tmp_path):
    """Slicer may save a segmentation cropped to its extent: it is placed back on the reference grid."""
    _, series_dir, labels = synthetic_case
    cropped = labels[20:60, 10:60, 2:26]
    seg = write_seg_nrrd(tmp_path / "c.seg.nrrd", sitk.GetArrayFromImage(cropped) == 2, cropped, [("Edema", 1, 0, "0 0 1")])
    out = export_rtstruct(seg, None, series_dir, tmp_path / "rt.dcm")
    rois, _ = read_rtstruct(out, series_dir)
    assert np.array_equal(rois[0].mask, sitk.GetArrayFromImage(labels) == 2)


def test_labels_on_another_grid_are_refused(synthetic_case, tmp_path):
    _, series_dir, labels = synthetic_case
    moved = sitk.Image(labels)
    moved.SetOrigin(tuple(o + 500 for o in labels.GetOrigin()))
    # labels off the series' lattice and without identity: refused before anything is resampled
    with pytest.raises(WeakSegError, match="cannot verify that the labels belong"):
        export_rtstruct(moved, None, series_dir, tmp_path / "rt.dcm")
    # the patient confirmed: still refused, they lie outside the images
    confirmed = ExpectedIdentity(patient_id="WS0001")
    with pytest.raises(WeakSegError, match="do not match the reference series grid"):
        export_rtstruct(moved, None, series_dir, tmp_path / "rt.dcm", expected=confirmed)
    assert files_in(tmp_path) == []


def test_empty_mask_is_refused(synthetic_case, tmp_path, capsys):
    _, series_dir, labels = synthetic_case
    empty = sitk.Image(labels) * 0
    sitk.WriteImage(empty, str(tmp_path / "empty.nrrd"))
    rc = main(["export-rtstruct", "--labels", str(tmp_path / "empty.nrrd"), "--reference", str(series_dir),
               "--out", str(tmp_path / "out" / "rt.dcm")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "empty" in err[0]
    assert files_in(tmp_path / "out") == []
    assert main(["export-seg", "--labels", str(tmp_path / "empty.nrrd"), "--reference", str(series_dir),
                 "--out", str(tmp_path / "out" / "seg.dcm")]) == 2
    assert files_in(tmp_path / "out") == []


def test_only_sub_threshold_islands_is_empty(synthetic_case, tmp_path):
    _, series_dir, labels = synthetic_case
    arr = np.zeros(sitk.GetArrayFromImage(labels).shape, dtype=np.uint8)
    arr[5, 5, 5] = 1
    tiny = sitk.GetImageFromArray(arr)
    tiny.CopyInformation(labels)
    with pytest.raises(WeakSegError, match="empty"):
        export_rtstruct(tiny, None, series_dir, tmp_path / "rt.dcm")
    assert files_in(tmp_path) == []


def test_reference_without_images_is_refused(tmp_path, synthetic_case):
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "readme.txt").write_text("no images")
    with pytest.raises(WeakSegError, match="no DICOM image slices"):
        export_rtstruct(synthetic_case[2], None, tmp_path / "ref", tmp_path / "rt.dcm")
    assert not (tmp_path / "rt.dcm").exists()


def test_reference_without_frame_of_reference_is_refused(shared_data, tmp_path):
    """Real anonymised GE MR slices lack FrameOfReferenceUID: an RTSTRUCT could not be placed on them."""
    from weakseg.rt.series import read_reference_series

    folder = shared_data / "dicom" / "dicom2nifti_ge_anatomical_001" / "dcm"
    if not folder.is_dir():
        pytest.skip("dicom2nifti GE sample is absent")
    grid = read_reference_series(folder).grid()
    arr = np.zeros(grid.GetSize()[::-1], dtype=np.uint8)
    arr[1:3, 100:150, 100:150] = 1
    labels = sitk.GetImageFromArray(arr)
    labels.CopyInformation(grid)
    with pytest.raises(WeakSegError, match="lack FrameOfReferenceUID"):
        export_rtstruct(labels, None, folder, tmp_path / "rt.dcm")
    assert files_in(tmp_path) == []
