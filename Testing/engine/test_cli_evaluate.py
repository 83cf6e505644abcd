"""``weakseg evaluate`` on synthetic files and on a real BraTS case: tables, pairing and one-line errors."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from weakseg import brats
from weakseg.cli import main
from weakseg.metrics import pair


def _ellipsoid(shape, centre, radii):
    zz, yy, xx = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((g - c) / r) ** 2 for g, c, r in zip((zz, yy, xx), centre, radii)) <= 1


def _labels(centre, shape=(16, 20, 24), enhancing=4):
    labels = np.zeros(shape, np.uint8)
    labels[_ellipsoid(shape, centre, (5, 7, 8))] = brats.ED
    labels[_ellipsoid(shape, centre, (3, 5, 6))] = enhancing
    labels[_ellipsoid(shape, centre, (2, 3, 3))] = brats.NCR
    return labels


def _write(array, path, spacing=(1.0, 1.0, 2.0)):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))
    return path


def _rows(path):
    return list(csv.DictReader(path.open()))


@pytest.fixture
def folders(tmp_path):
    """Truth in BraTS case folders (2021 convention); predictions flat (2018 convention), one shifted."""
    truth_root, pred_root = tmp_path / "truth", tmp_path / "pred"
    for i, case in enumerate(["caseA", "caseB", "caseC"]):
        _write(_labels((8, 10, 12), enhancing=3), truth_root / case / f"{case}-seg.nii.gz")
        _write(np.zeros((16, 20, 24), np.int16), truth_root / case / f"{case}-t2f.nii.gz")  # an image, ignored
        _write(_labels((8, 10, 12 + i)), pred_root / f"{case}.nii.gz")
    return pred_root, truth_root


def test_folder_mode_pairs_cases_and_writes_tables(folders, tmp_path, capsys):
    pred_root, truth_root = folders
    out, js = tmp_path / "res" / "metrics.csv", tmp_path / "res" / "metrics.json"
    assert main(["evaluate", "--pred", str(pred_root), "--truth", str(truth_root), "--out", str(out), "--json", str(js)]) == 0
    printed = capsys.readouterr().out
    assert "3 case(s) scored" in printed and "WT" in printed and "HD95" in printed
    rows = _rows(out)
    per_case = [r for r in rows if r["case"].startswith("case")]
    assert [(r["case"], r["region"]) for r in per_case] == [(c, r) for c in ("caseA", "caseB", "caseC") for r in brats.REGIONS]
    # caseA is identical up to the label convention; caseB is shifted by one 1-mm column.
    a_wt = next(r for r in per_case if r["case"] == "caseA" and r["region"] == "WT")
    assert float(a_wt["dice"]) == 1.0 and float(a_wt["hd95_mm"]) == 0.0
    b_wt = next(r for r in per_case if r["case"] == "caseB" and r["region"] == "WT")
    assert 0.8 < float(b_wt["dice"]) < 1.0 and float(b_wt["hd_mm"]) == pytest.approx(1.0)
    doc = json.loads(js.read_text())
    assert [p["case"] for p in doc["pairs"]] == ["caseA", "caseB", "caseC"]
    assert doc["summary"]["WT"]["dice"]["n"] == 3


def test_file_mode_labels_kind_with_names(tmp_path, capsys):
    truth = np.zeros((8, 10, 12), np.uint8)
    truth[2:5, 2:6, 2:6] = 1
    truth[5:7, 6:9, 6:10] = 2
    pred = truth.copy()
    pred[pred == 2] = 0
    t = _write(truth, tmp_path / "organs_truth.nrrd", spacing=(0.98, 0.98, 2.5))
    p = _write(pred, tmp_path / "auto.nrrd", spacing=(0.98, 0.98, 2.5))
    out = tmp_path / "m.csv"
    code = main(["evaluate", "--pred", str(p), "--truth", str(t), "--out", str(out), "--kind", "labels",
                 "--label-names", "1=brainstem,2=chiasm"])
    assert code == 0
    rows = {r["region"]: r for r in _rows(out) if r["case"] == "auto"}
    assert float(rows["brainstem"]["dice"]) == 1.0
    assert float(rows["chiasm"]["dice"]) == 0.0 and rows["chiasm"]["hd95_mm"] == "inf" and rows["chiasm"]["precision"] == "nan"
    n_inf = next(r for r in _rows(out) if r["case"] == "n_inf" and r["region"] == "chiasm")
    assert n_inf["hd95_mm"] == "1"
    assert "1 inf" in capsys.readouterr().out
    assert main(["evaluate", "--pred", str(p), "--truth", str(t), "--out", str(out), "--kind", "labels",
                 "--label-names", "1=brainstem,2=chiasm", "--hd-empty", "diagonal"]) == 0
    chiasm = next(r for r in _rows(out) if r["case"] == "auto" and r["region"] == "chiasm")
    assert float(chiasm["hd95_mm"]) == pytest.approx(math.sqrt((12 * 0.98) ** 2 + (10 * 0.98) ** 2 + (8 * 2.5) ** 2), rel=1e-5)


def _fails(argv, capsys, *needles):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("weakseg: error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in err
    return err


def test_errors_are_one_line_and_write_nothing(folders, tmp_path, capsys):
    pred_root, truth_root = folders
    out = tmp_path / "never.csv"
    _fails(["evaluate", "--pred", str(tmp_path / "nope.nii.gz"), "--truth", str(truth_root), "--out", str(out)],
           capsys, "nope.nii.gz", "not found")
    # A prediction without truth: a pairing failure naming the case and the file.
    _write(_labels((8, 10, 12)), pred_root / "caseZ_pred.nii.gz")
    _fails(["evaluate", "--pred", str(pred_root), "--truth", str(truth_root), "--out", str(out)],
           capsys, "caseZ", "no truth")
    (pred_root / "caseZ_pred.nii.gz").unlink()
    # A prediction on another grid.
    _write(_labels((8, 10, 12)), pred_root / "caseB.nii.gz", spacing=(1.0, 1.0, 1.0))
    _fails(["evaluate", "--pred", str(pred_root), "--truth", str(truth_root), "--out", str(out)],
           capsys, "caseB.nii.gz", "grid differs", "caseB-seg.nii.gz")
    # Not a BraTS label map.
    _write(np.full((16, 20, 24), 9, np.uint8), pred_root / "caseB.nii.gz")
    _fails(["evaluate", "--pred", str(pred_root), "--truth", str(truth_root), "--out", str(out)], capsys, "caseB.nii.gz", "9")
    # A non-image file named like one.
    (pred_root / "caseB.nii.gz").write_bytes(b"not an image at all")
    _fails(["evaluate", "--pred", str(pred_root), "--truth", str(truth_root), "--out", str(out)], capsys, "caseB.nii.gz")
    _fails(["evaluate", "--pred", str(pred_root), "--truth", str(truth_root), "--out", str(out), "--label-names", "x"],
           capsys, "--label-names")
    assert not out.exists()
    assert not list(tmp_path.glob(".never*"))


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--help"])
    assert info.value.code == 0
    assert "--truth" in capsys.readouterr().out


def test_pairing_strips_role_words(tmp_path):
    for name in ("X1_pred.nii.gz", "X2-segmentation.nrrd", ".X9_pred.tmp123.nii.gz"):  # the hidden one is ignored
        _write(np.zeros((4, 4, 4), np.uint8), tmp_path / "p" / name)
    for name in ("X1_seg.nii.gz", "X2_seg.nii.gz", "X3_seg.nii.gz"):
        _write(np.zeros((4, 4, 4), np.uint8), tmp_path / "t" / name)
    assert [(c, p.name, t.name) for c, p, t in pair(tmp_path / "p", tmp_path / "t")] == [
        ("X1", "X1_pred.nii.gz", "X1_seg.nii.gz"), ("X2", "X2-segmentation.nrrd", "X2_seg.nii.gz")]


def test_real_brats_case_against_dilated_truth(brats_case, tmp_path, capsys):
    seg = next(brats_case.glob("*_seg.nii.gz"))
    truth = sitk.ReadImage(str(seg))
    labels = sitk.GetArrayFromImage(truth)
    # Grow every label outward by one voxel (6-connected), keeping the original labels where present.
    wt = labels > 0
    grown = ndimage.binary_dilation(wt)
    nearest = ndimage.distance_transform_edt(~wt, return_distances=False, return_indices=True)
    dilated = np.where(grown, labels[tuple(nearest)], 0).astype(labels.dtype)
    pred = sitk.GetImageFromArray(dilated)
    pred.CopyInformation(truth)
    pred_path = tmp_path / f"{brats_case.name}.nii.gz"
    sitk.WriteImage(pred, str(pred_path))
    out = tmp_path / "m.csv"
    assert main(["evaluate", "--pred", str(pred_path), "--truth", str(brats_case), "--out", str(out)]) == 0
    rows = {r["region"]: r for r in _rows(out) if r["case"] == brats_case.name}
    wt_row = rows["WT"]
    f = sitk.LabelOverlapMeasuresImageFilter()
    f.Execute(sitk.Cast(pred > 0, sitk.sitkUInt8), sitk.Cast(truth > 0, sitk.sitkUInt8))
    assert float(wt_row["dice"]) == pytest.approx(f.GetDiceCoefficient(), rel=1e-5)
    assert float(wt_row["sensitivity"]) == 1.0 and float(wt_row["precision"]) < 1.0  # a strict superset
    assert float(wt_row["vol_pred_ml"]) == pytest.approx(grown.sum() / 1000, rel=1e-5)  # 1 mm^3 voxels
    assert 0 < float(wt_row["hd95_mm"]) <= float(wt_row["hd_mm"])
    assert float(rows["ET"]["dice"]) < 1.0
