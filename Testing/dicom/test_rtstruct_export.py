"""RTSTRUCT export checked by tools nobody here wrote: dciodvfy, drtdump, plastimatch; plus pydicom structure checks."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from rt_helpers import dciodvfy_errors, dice, drtdump, on_grid, plastimatch_masks, synthetic_case  # noqa: F401  (synthetic_case is a fixture)
from weakseg.rt import RtExportConfig, export_rtstruct
from weakseg.rt.codes import STYLES
from weakseg.rt.rtstruct_read import read_rtstruct
from weakseg.rt.series import read_reference_series

EXPECTED = {1: "GTV_Necrosis", 2: "CTV_Edema", 4: "GTV_Enhancing"}


@pytest.fixture(scope="module")
def exported(synthetic_case, tmp_path_factory):
    orientation, series_dir, labels = synthetic_case
    out = tmp_path_factory.mktemp(f"rt_{orientation}") / "rtstruct.dcm"
    config = RtExportConfig(model_name="WeakSeg-test", model_version="1.2.3")
    export_rtstruct(labels, None, series_dir, out, config)
    return orientation, series_dir, labels, out


def test_dciodvfy_accepts_rtstruct(exported):
    *_, out = exported
    iod, errors = dciodvfy_errors(out)
    assert iod == "RTStructureSet"
    assert errors == []


def test_drtdump_parses_rtstruct(exported):
    *_, out = exported
    result = drtdump(out)
    assert result.returncode == 0
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    assert not [line for line in lines if line.startswith(("E:", "W:", "F:"))]  # not even missing Type 2 warnings
    assert result.stdout.startswith("RT Structure Set object")
    assert "Device      : WeakSeg, WeakSeg-test" in result.stdout


def test_plastimatch_rasterises_back(exported, tmp_path):
    """Dice >= 0.95 per ROI of >= 1 ml; the one-voxel island below the minimum area is gone."""
    orientation, series_dir, labels, out = exported
    masks = plastimatch_masks(out, series_dir, tmp_path / "pl")
    assert set(masks) == set(EXPECTED.values())
    source = sitk.GetArrayFromImage(labels)
    voxel_ml = float(np.prod(labels.GetSpacing())) / 1000
    for value, name in EXPECTED.items():
        truth = source == value
        if value == 4:
            truth[20, 5, 70] = False  # the dropped island
        got = on_grid(masks[name], labels)
        assert truth.sum() * voxel_ml >= 0.85
        assert dice(truth, got) >= 0.95, (orientation, name, dice(truth, got))
    assert not on_grid(masks["GTV_Enhancing"], labels)[20, 5, 70]


def test_references_geometry_and_rois(exported):
    orientation, series_dir, labels, out = exported
    series = read_reference_series(series_dir)
    ds = pydicom.dcmread(out)
    ref = series.first
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.3" and ds.Modality == "RTSTRUCT"
    assert ds.StudyInstanceUID == ref.StudyInstanceUID and ds.PatientID == ref.PatientID
    assert ds.PatientName == ref.PatientName and ds.FrameOfReferenceUID == ref.FrameOfReferenceUID
    assert ds.SeriesInstanceUID != ref.SeriesInstanceUID and ds.SOPInstanceUID not in series.sop_uids
    frame = ds.ReferencedFrameOfReferenceSequence[0]
    ref_series = frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    assert frame.FrameOfReferenceUID == ref.FrameOfReferenceUID
    assert ref_series.SeriesInstanceUID == series.series_uid
    assert {i.ReferencedSOPInstanceUID for i in ref_series.ContourImageSequence} == set(series.sop_uids)

    names = [r.ROIName for r in ds.StructureSetROISequence]
    assert names == list(EXPECTED.values())
    assert all(r.ROIGenerationAlgorithm == "AUTOMATIC" and "WeakSeg-test 1.2.3" in r.ROIGenerationDescription
               for r in ds.StructureSetROISequence)
    styles = {s.name: s for s in STYLES.values()}
    for obs, roi_contour, name in zip(ds.RTROIObservationsSequence, ds.ROIContourSequence, names):
        assert obs.RTROIInterpretedType == styles[name].interpreted_type
        code = obs.RTROIIdentificationCodeSequence[0]
        assert (code.CodeValue, code.CodingSchemeDesignator) == (styles[name].code.value, "SCT")
        assert tuple(roi_contour.ROIDisplayColor) == styles[name].colour

    uid_to_k = {uid: k for k, uid in enumerate(series.sop_uids)}
    offsets = series.slice_offsets()
    for roi_contour in ds.ROIContourSequence:
        for contour in roi_contour.ContourSequence:
            assert contour.ContourGeometricType == "CLOSED_PLANAR"
            raw = contour["ContourData"].value
            assert all(len(str(v)) <= 16 for v in raw)
            points = np.asarray(raw, dtype=float).reshape(-1, 3)
            assert len(points) == contour.NumberOfContourPoints >= 3
            k = uid_to_k[contour.ContourImageSequence[0].ReferencedSOPInstanceUID]
            assert np.allclose(points @ series.normal, offsets[k], atol=2e-3)  # exactly on its own plane


def test_own_reader_round_trip_is_exact(exported):
    """Contours → our even-odd rasteriser gives back the source masks voxel for voxel."""
    _, series_dir, labels, out = exported
    rois, _ = read_rtstruct(out, series_dir)
    source = sitk.GetArrayFromImage(labels)
    for roi, value in zip(rois, EXPECTED):
        truth = source == value
        if value == 4:
            truth[20, 5, 70] = False
        assert np.array_equal(roi.mask, truth), roi.name


def test_hole_survives(exported):
    """The shell's cavity (core region and gap) stays empty after plastimatch-free round trip."""
    _, series_dir, labels, out = exported
    rois, _ = read_rtstruct(out, series_dir)
    shell = next(r for r in rois if r.name == "CTV_Edema").mask
    assert not shell[13][sitk.GetArrayFromImage(labels)[13] == 1].any()


def test_synthetic_reference_series_is_valid(synthetic_case):
    """The test reference images themselves pass dciodvfy, so the oracles above judge a realistic input."""
    orientation, series_dir, _ = synthetic_case
    first = sorted(series_dir.glob("*.dcm"))[0]
    iod, errors = dciodvfy_errors(first)
    assert iod == ("CTImage" if orientation == "axial" else "MRImage") and errors == []
    ours = read_reference_series(series_dir).grid()
    reader = sitk.ImageSeriesReader()  # SimpleITK/GDCM's own DICOM reader: an independent geometry check
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(series_dir)))
    theirs = reader.Execute()
    assert ours.GetSize() == theirs.GetSize()
    assert np.allclose(ours.GetOrigin(), theirs.GetOrigin(), atol=1e-3)
    assert np.allclose(ours.GetSpacing(), theirs.GetSpacing(), atol=1e-4)
    assert np.allclose(ours.GetDirection(), theirs.GetDirection(), atol=1e-6)
