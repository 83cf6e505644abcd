"""Slices a model flagged as untrustworthy reach the RT export: dropped, or the structure set marked for review."""

from __future__ import annotations

import csv

import numpy as np
import pydicom
import SimpleITK as sitk

from rt_helpers import synthetic_case  # noqa: F401  (a fixture)
from weakseg.cli import main
from weakseg.preprocess import to_canonical
from weakseg.rt.rtstruct_read import read_rtstruct


def _segment_outputs(labels: sitk.Image, folder, flag: int):
    """A labels file and its slice table as ``weakseg segment`` writes them, ``flag`` tumour slices flagged."""
    folder.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(labels, str(folder / "case_labels.nii.gz"))
    canonical = sitk.GetArrayFromImage(to_canonical(labels))
    with_tumour = [z for z in range(canonical.shape[0]) if canonical[z].any()]
    flagged = set(with_tumour[1:1 + flag])
    with open(folder / "case_slices.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["slice", "z_mm", "difference_score", "flagged"])
        writer.writeheader()
        for z in range(canonical.shape[0]):
            writer.writerow({"slice": z, "z_mm": float(z), "difference_score": 0.05 if z in flagged else 0.6,
                             "flagged": z in flagged})
    return folder / "case_labels.nii.gz", sorted(flagged)


def _export(labels_path, series_dir, out, *extra):
    return main(["export-rtstruct", "--labels", str(labels_path), "--reference", str(series_dir), "--out", str(out),
                 "--patient-id", pydicom.dcmread(next(series_dir.glob("*.dcm"))).PatientID, *extra])


def test_flagged_slices_are_dropped_marked_or_kept(synthetic_case, tmp_path):
    _, series_dir, labels = synthetic_case
    labels_path, flagged = _segment_outputs(labels, tmp_path / "seg", flag=2)
    assert len(flagged) == 2

    assert _export(labels_path, series_dir, tmp_path / "keep.dcm", "--flagged", "keep") == 0
    assert "needs review" not in pydicom.dcmread(tmp_path / "keep.dcm").SeriesDescription
    assert _export(labels_path, series_dir, tmp_path / "drop.dcm", "--flagged", "drop") == 0
    assert "needs review" not in pydicom.dcmread(tmp_path / "drop.dcm").SeriesDescription
    kept, dropped = _canonical_union(tmp_path / "keep.dcm", series_dir, labels), _canonical_union(tmp_path / "drop.dcm", series_dir, labels)
    assert all(kept[z].any() for z in flagged)
    for z in range(kept.shape[0]):
        assert not dropped[z].any() if z in flagged else (dropped[z] == kept[z]).all(), z

    assert _export(labels_path, series_dir, tmp_path / "mark.dcm") == 0  # default: mark
    assert pydicom.dcmread(tmp_path / "mark.dcm").SeriesDescription == "WeakSeg, needs review: 2 flagged slice(s)"
    assert (_canonical_union(tmp_path / "mark.dcm", series_dir, labels) == kept).all()


def _canonical_union(rtstruct, series_dir, labels) -> np.ndarray:
    """Every ROI of an RTSTRUCT together, as axial slices of the canonical grid the slice table indexes."""
    rois, _ = read_rtstruct(rtstruct, series_dir)
    union = np.zeros(sitk.GetArrayViewFromImage(labels).shape, dtype=bool)
    for roi in rois:
        union |= roi.mask
    return sitk.GetArrayFromImage(to_canonical(_as_image(union, labels))) > 0


def test_labels_without_flags_export_unchanged(synthetic_case, tmp_path):
    _, series_dir, labels = synthetic_case
    labels_path, _ = _segment_outputs(labels, tmp_path / "seg", flag=0)
    assert _export(labels_path, series_dir, tmp_path / "rt.dcm", "--flagged", "drop") == 0
    assert pydicom.dcmread(tmp_path / "rt.dcm").SeriesDescription == "WeakSeg structures"


def test_an_unreadable_slice_table_is_one_line_and_writes_nothing(synthetic_case, tmp_path, capsys):
    _, series_dir, labels = synthetic_case
    labels_path, _ = _segment_outputs(labels, tmp_path / "seg", flag=1)
    (tmp_path / "seg" / "case_slices.csv").write_text("not,a,table\n")
    assert _export(labels_path, series_dir, tmp_path / "rt.dcm", "--flagged", "drop") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no 'slice' column" in err[0] and "case_slices.csv" in err[0]
    assert not (tmp_path / "rt.dcm").exists()


def _as_image(mask: np.ndarray, like: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.CopyInformation(like)
    return image


def test_dicom_seg_export_marks_or_drops_flagged_slices_too(synthetic_case, tmp_path):
    _, series_dir, labels = synthetic_case
    labels_path, flagged = _segment_outputs(labels, tmp_path / "seg", flag=2)
    patient = pydicom.dcmread(next(series_dir.glob("*.dcm"))).PatientID
    common = ["--labels", str(labels_path), "--reference", str(series_dir), "--patient-id", patient]
    assert main(["export-seg", *common, "--out", str(tmp_path / "mark.dcm")]) == 0  # default: mark
    assert pydicom.dcmread(tmp_path / "mark.dcm").SeriesDescription == "WeakSeg, needs review: 2 flagged slice(s)"
    assert main(["export-seg", *common, "--out", str(tmp_path / "keep.dcm"), "--flagged", "keep"]) == 0
    assert main(["export-seg", *common, "--out", str(tmp_path / "drop.dcm"), "--flagged", "drop"]) == 0
    kept, dropped = pydicom.dcmread(tmp_path / "keep.dcm"), pydicom.dcmread(tmp_path / "drop.dcm")
    assert "needs review" not in dropped.SeriesDescription
    assert 0 < dropped.pixel_array.sum() < kept.pixel_array.sum()  # the flagged slices' voxels are gone, the rest kept
