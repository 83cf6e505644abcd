"""evaluate_case (BraTS regions in both conventions, label maps, grid checks) and the metrics tables."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg import brats
from weakseg.errors import WeakSegError
from weakseg.metrics import METRICS, MetricsConfig, case_rows, evaluate_case, summarize, to_csv, to_json, write_tables
from weakseg.metrics.distance import diagonal_mm

SPACING_XYZ = (0.9, 1.1, 2.0)


def _ellipsoid(shape, centre, radii):
    zz, yy, xx = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((g - c) / r) ** 2 for g, c, r in zip((zz, yy, xx), centre, radii)) <= 1


def _tumour(shape=(20, 28, 32), centre=(10, 14, 16), enhancing=4):
    """Edema around an enhancing shell around necrosis, in the BraTS 2018 (4) or 2021 (3) convention."""
    labels = np.zeros(shape, np.uint8)
    labels[_ellipsoid(shape, centre, (7, 10, 12))] = brats.ED
    labels[_ellipsoid(shape, centre, (5, 7, 8))] = enhancing
    labels[_ellipsoid(shape, centre, (3, 4, 5))] = brats.NCR
    return labels


def _image(array):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING_XYZ)
    image.SetOrigin((-10.0, 5.0, 3.0))
    return image


def test_both_label_conventions_give_identical_region_metrics():
    truth18 = _tumour()
    pred18 = _tumour(centre=(11, 13, 17))
    reference = evaluate_case(_image(pred18), _image(truth18))
    assert list(reference) == ["WT", "TC", "ET"]
    to21 = lambda a: brats.to_convention(a, brats.BRATS2018, brats.BRATS2021)  # noqa: E731
    for pred, truth in ((to21(pred18), to21(truth18)), (pred18, to21(truth18)), (to21(pred18), truth18)):
        assert evaluate_case(_image(pred), _image(truth)) == reference
    assert 0.3 < reference["WT"]["dice"] < 1.0 and reference["WT"]["hd95_mm"] > 0


def test_regions_agree_with_simpleitk_and_use_image_spacing():
    truth, pred = _tumour(), _tumour(centre=(10, 15, 14))
    result = evaluate_case(_image(pred), _image(truth))
    f = sitk.LabelOverlapMeasuresImageFilter()
    for region, values in (("WT", (1, 2, 4)), ("TC", (1, 4)), ("ET", (4,))):
        p, t = (_image(np.isin(a, values).astype(np.uint8)) for a in (pred, truth))
        f.Execute(p, t)
        assert result[region]["dice"] == pytest.approx(f.GetDiceCoefficient())
        voxel_ml = np.prod(SPACING_XYZ) / 1000
        assert result[region]["vol_truth_ml"] == pytest.approx(np.isin(truth, values).sum() * voxel_ml)
        h = sitk.HausdorffDistanceImageFilter()
        h.Execute(p, t)
        assert result[region]["hd_mm"] >= result[region]["hd95_mm"] > 0
        if region == "TC":  # convex (an ellipsoid): ITK's voxel-set Hausdorff equals the surface one
            assert result[region]["hd_mm"] == pytest.approx(h.GetHausdorffDistance())
    # Pure shift of convex WT along x (0.9 mm voxels) by 2 voxels: the WT Hausdorff distance is 1.8 mm.
    shifted = evaluate_case(_image(np.roll(truth, 2, axis=2)), _image(truth))
    assert shifted["WT"]["hd_mm"] == pytest.approx(1.8)


def test_missing_region_gives_inf_or_the_diagonal():
    truth = _tumour()
    pred = truth.copy()
    pred[pred == 4] = brats.NCR  # no enhancing tumour predicted
    result = evaluate_case(_image(pred), _image(truth))
    assert result["ET"]["dice"] == 0.0 and result["ET"]["hd95_mm"] == math.inf
    assert result["TC"]["dice"] == 1.0
    penalised = evaluate_case(_image(pred), _image(truth), config=MetricsConfig(hd_empty="diagonal"))
    assert penalised["ET"]["hd95_mm"] == pytest.approx(diagonal_mm(truth.shape, SPACING_XYZ[::-1]))
    empty = np.zeros_like(truth)
    both_empty = evaluate_case(_image(empty), _image(empty))
    assert all(both_empty[r]["dice"] == 1.0 and both_empty[r]["hd95_mm"] == 0.0 for r in brats.REGIONS)


def test_grid_mismatch_names_both_files(tmp_path):
    truth = _image(_tumour())
    pred = _image(_tumour())
    pred.SetSpacing((1.0, 1.0, 1.0))
    with pytest.raises(WeakSegError, match=r"grid differs from the truth .*truth_file.*spacing") as info:
        evaluate_case(pred, truth, pred_path=tmp_path / "pred_file.nii.gz", truth_path=tmp_path / "truth_file.nii.gz")
    assert info.value.path.endswith("pred_file.nii.gz") and "\n" not in str(info.value)
    shifted = _image(_tumour())
    shifted.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(WeakSegError, match="grid differs"):
        evaluate_case(shifted, truth)


def test_bad_label_values_name_the_file():
    truth = _tumour()
    bad = truth.copy()
    bad[0, 0, 0] = 7
    with pytest.raises(WeakSegError, match="not a BraTS label map.*7") as info:
        evaluate_case(_image(bad), _image(truth), pred_path="p.nii.gz")
    assert info.value.path == "p.nii.gz"
    mixed = truth.copy()
    mixed[0, 0, 0] = 3  # both 3 and 4 present
    with pytest.raises(WeakSegError, match="both 3 and 4"):
        evaluate_case(_image(truth), _image(mixed), truth_path="t.nii.gz")
    fractional = _image(truth.astype(np.float32) * 0.5)
    with pytest.raises(WeakSegError, match="non-integer"):
        evaluate_case(fractional, _image(truth))


def test_label_maps_by_value_and_by_name():
    truth = np.zeros((10, 12, 14), np.int16)
    truth[2:5, 2:6, 2:6] = 1
    truth[6:9, 6:10, 6:12] = 3
    pred = truth.copy()
    pred[pred == 3] = 0
    pred[2:5, 2:6, 6:8] = 2  # a label absent from the truth
    by_value = evaluate_case(_image(pred), _image(truth), kind="labels")
    assert list(by_value) == ["1", "2", "3"]
    assert by_value["1"]["dice"] == 1.0 and by_value["2"]["dice"] == 0.0 and by_value["3"]["sensitivity"] == 0.0
    assert math.isnan(by_value["2"]["sensitivity"]) and math.isnan(by_value["3"]["precision"])
    named = evaluate_case(_image(pred), _image(truth), kind="labels", label_names={1: "brainstem", 5: "chiasm"})
    assert list(named) == ["brainstem", "chiasm"]
    assert named["chiasm"]["dice"] == 1.0 and named["chiasm"]["hd95_mm"] == 0.0  # absent in both


def _rows():
    truth = _tumour()
    rows = case_rows("A", evaluate_case(_image(truth), _image(truth)))
    no_et = truth.copy()
    no_et[no_et == 4] = brats.NCR
    rows += case_rows("B", evaluate_case(_image(no_et), _image(truth)))
    rows += case_rows("C", evaluate_case(_image(_tumour(centre=(9, 14, 15))), _image(truth)))
    return rows


def test_summary_leaves_out_and_counts_non_finite_values():
    rows = _rows()
    summary = summarize(rows)
    et = summary["ET"]["hd95_mm"]
    finite = [r["hd95_mm"] for r in rows if r["region"] == "ET" and math.isfinite(r["hd95_mm"])]
    assert (et["n"], et["n_inf"], et["n_nan"]) == (2, 1, 0)
    assert et["mean"] == pytest.approx(np.mean(finite)) and et["median"] == pytest.approx(np.median(finite))
    assert et["std"] == pytest.approx(np.std(finite, ddof=1))
    dice = [r["dice"] for r in rows if r["region"] == "WT"]
    assert summary["WT"]["dice"]["mean"] == pytest.approx(np.mean(dice)) and summary["WT"]["dice"]["n"] == 3
    assert summary["ET"]["precision"]["n_nan"] == 1  # empty ET prediction: precision undefined


def test_csv_and_json_round_trip(tmp_path):
    rows = _rows()
    csv_path, json_path = tmp_path / "out" / "m.csv", tmp_path / "out" / "m.json"
    summary = write_tables(rows, csv_path, json_path, meta={"kind": "brats"})
    table = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert [(r["case"], r["region"]) for r in table[:9]] == [(c, r) for c in "ABC" for r in brats.REGIONS]
    assert table[5]["hd95_mm"] == "inf" and table[5]["precision"] == "nan"  # case B, ET
    assert {r["case"] for r in table[9:]} == {"mean", "median", "std", "n", "n_inf", "n_nan"}
    mean_wt = next(r for r in table if r["case"] == "mean" and r["region"] == "WT")
    assert float(mean_wt["dice"]) == pytest.approx(summary["WT"]["dice"]["mean"], rel=1e-5)

    def refuse(token):
        raise AssertionError(f"non-standard JSON constant {token}")
    doc = json.loads(json_path.read_text(), parse_constant=refuse)
    assert doc["kind"] == "brats" and doc["metrics"] == list(METRICS)
    b_et = next(c for c in doc["cases"] if c["case"] == "B" and c["region"] == "ET")
    assert b_et["hd95_mm"] == "inf" and b_et["precision"] is None and b_et["dice"] == 0.0
    assert doc["summary"]["ET"]["hd95_mm"]["n_inf"] == 1
    assert sorted(p.name for p in csv_path.parent.iterdir()) == ["m.csv", "m.json"]  # no temporary files left


def test_csv_text_writes_inf_and_nan_explicitly():
    text = to_csv([{"case": "x", "region": "ET", **{m: math.inf if m.startswith("hd") else math.nan for m in METRICS}}])
    assert text.splitlines()[1].startswith("x,ET,nan,inf,inf,")
    assert "NaN" not in to_json([], {})
