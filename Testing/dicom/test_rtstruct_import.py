"""RTSTRUCT import: a real third-party structure set, bad references, and partial labels into the store."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from scipy.spatial import cKDTree

from rt_helpers import dciodvfy_errors, files_in, synthetic_case  # noqa: F401  (synthetic_case is a fixture)
from weakseg.cli import main
from weakseg.errors import WeakSegError
from weakseg.labels import WeakLabelStore
from weakseg.rt import export_rtstruct
from weakseg.rt.rtstruct_read import import_rtstruct, read_rtstruct
from weakseg.rt.segments import Segment, SegmentSet, resolve_style
from weakseg.rt.series import read_reference_series


@pytest.fixture(scope="module")
def dicom_data(shared_data):
    folder = shared_data / "dicom"
    if not (folder / "rtutils_sample" / "rt.dcm").is_file():
        pytest.skip("rtutils DICOM samples are absent")
    return folder


def _densify(points: np.ndarray, step: float = 0.02) -> np.ndarray:
    closed = np.vstack([points, points[:1]])
    parts = [p + (q - p) * np.linspace(0, 1, max(1, int(np.linalg.norm(q - p) / step)), endpoint=False)[:, None]
             for p, q in zip(closed[:-1], closed[1:])]
    return np.vstack(parts)


def _contours_by_plane(ds) -> dict[tuple[int, float], list[np.ndarray]]:
    out: dict[tuple[int, float], list[np.ndarray]] = {}
    for roi in ds.ROIContourSequence:
        for contour in roi.ContourSequence:
            pts = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
            out.setdefault((int(roi.ReferencedROINumber), round(float(pts[0, 2]), 3)), []).append(pts)
    return out


def test_rtutils_sample_import_and_reexport_keeps_contours(dicom_data, tmp_path):
    sample = dicom_data / "rtutils_sample"
    summary = import_rtstruct(sample / "rt.dcm", sample, tmp_path / "masks")
    assert [r["name"] for r in summary["rois"]] == ["ROI-1", "ROI-2", "ROI-3", "ROI-4"]
    assert all(r["contours"] == 3 and r["voxels"] > 1000 for r in summary["rois"])
    assert summary["unmapped_rois"] == ["ROI-1", "ROI-2", "ROI-3", "ROI-4"] and summary["present_classes"] == []
    series = read_reference_series(sample)
    grid = series.grid()
    segset = SegmentSet(grid=grid)
    for index, roi in enumerate(summary["rois"]):
        mask = sitk.ReadImage(str(tmp_path / "masks" / roi["file"]))
        assert mask.GetSize() == (512, 512, 5)
        style = resolve_style(roi["name"], index)[1].renamed(roi["name"])
        segset.segments.append(Segment(style=style, mask=sitk.GetArrayFromImage(mask) > 0))
    out = export_rtstruct(segset, None, sample, tmp_path / "again.dcm")
    assert dciodvfy_errors(out)[1] == []
    original, again = _contours_by_plane(pydicom.dcmread(sample / "rt.dcm")), _contours_by_plane(pydicom.dcmread(out))
    assert set(original) == set(again)
    for key, rings in original.items():
        # vertices of one against the densified polylines of the other (a keyhole cut has no vertex inside)
        a, b = np.vstack(rings), np.vstack(again[key])
        dense_a, dense_b = np.vstack([_densify(r) for r in rings]), np.vstack([_densify(r) for r in again[key]])
        hausdorff = max(cKDTree(dense_b).query(a)[0].max(), cKDTree(dense_a).query(b)[0].max())
        assert hausdorff <= 0.5, (key, hausdorff)  # the stated tolerance; one pixel is 0.49 mm


@pytest.mark.parametrize("name, message", [
    ("invalid_reference_rt.dcm", "not in the reference series"),
    ("non_existent_reference_rt.dcm", "RT Referenced Series"),
    ("ct_1.dcm", "is not an RT Structure Set"),
])
def test_bad_structure_sets_fail_cleanly_and_write_nothing(dicom_data, tmp_path, capsys, name, message):
    mock = dicom_data / "rtutils_mock"
    with pytest.raises(WeakSegError, match=message):
        import_rtstruct(mock / name, mock, tmp_path / "out")
    assert files_in(tmp_path / "out") == []
    assert main(["import-rtstruct", str(mock / name), "--reference", str(mock), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and name in err[0] and message in err[0]
    assert files_in(tmp_path / "out") == []


def test_missing_referenced_series_is_named(dicom_data, tmp_path):
    """A valid structure set pointed at another series' folder: the error names the series it needs."""
    with pytest.raises(WeakSegError, match="references image series .* not found"):
        import_rtstruct(dicom_data / "rtutils_sample" / "rt.dcm", dicom_data / "dicompyler_example", tmp_path / "o")
    assert files_in(tmp_path / "o") == []


def test_not_dicom_is_refused(tmp_path, synthetic_case):
    bogus = tmp_path / "notes.dcm"
    bogus.write_text("not a DICOM file\n")
    with pytest.raises(WeakSegError, match="not a readable DICOM file"):
        read_rtstruct(bogus, synthetic_case[1])


def test_partial_structure_set_gives_unknown_not_absent(synthetic_case, tmp_path):
    """Only the oedema is contoured: it becomes a full label; necrosis, enhancing and organs stay unknown."""
    _, series_dir, labels = synthetic_case
    edema_only = sitk.BinaryThreshold(labels, 2, 2, 2, 0)
    rt = export_rtstruct(edema_only, None, series_dir, tmp_path / "edema.dcm")
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    summary = import_rtstruct(rt, series_dir, tmp_path / "masks", store_dir=case_dir)
    assert summary["present_classes"] == ["edema"]
    assert {"necrosis", "enhancing", "Brainstem"} <= set(summary["unknown_classes"])
    store = WeakLabelStore.open(case_dir, create=False)
    assert store.known_classes("full") == ["edema"]
    assert store.full_mask("necrosis") is None and store.full_mask("Brainstem") is None  # unknown, not all-zero
    assert np.array_equal(store.full_mask("edema"), sitk.GetArrayFromImage(labels) == 2)
    listing = json.loads((tmp_path / "masks" / "rois.json").read_text())
    assert [r["class"] for r in listing["rois"]] == ["edema"]


def test_complete_tumour_structure_set_gives_brats_regions(synthetic_case, tmp_path):
    """All three sub-regions contoured: ET, TC and WT are derived into the store as full labels."""
    _, series_dir, labels = synthetic_case
    rt = export_rtstruct(labels, None, series_dir, tmp_path / "all.dcm")
    summary = import_rtstruct(rt, series_dir, tmp_path / "masks", store_dir=tmp_path)
    assert summary["derived_classes"] == ["ET", "TC", "WT"]
    store = WeakLabelStore.open(tmp_path, create=False)
    arr = sitk.GetArrayFromImage(labels)
    arr[20, 5, 70] = 0  # the island below the minimum area is not in the structure set
    assert np.array_equal(store.full_mask("WT"), np.isin(arr, (1, 2, 4)))
    assert np.array_equal(store.full_mask("TC"), np.isin(arr, (1, 4)))
    assert np.array_equal(store.full_mask("ET"), arr == 4)


def test_roi_named_whole_tumour_maps_to_wt(synthetic_case, tmp_path):
    _, series_dir, labels = synthetic_case
    wt = sitk.BinaryThreshold(labels, 1, 4, 1, 0)
    rt = export_rtstruct(wt, {1: "whole tumour"}, series_dir, tmp_path / "wt.dcm")
    summary = import_rtstruct(rt, series_dir, tmp_path / "masks", store_dir=tmp_path)
    assert summary["rois"][0]["name"] == "CTV_WholeTumour" and summary["present_classes"] == ["WT"]
    assert summary["derived_classes"] == []
    assert WeakLabelStore.open(tmp_path, create=False).full_mask("TC") is None
