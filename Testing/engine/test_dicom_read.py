"""DICOM series reading: real vendor series against their reference conversions, and
synthetic oblique multi-series folders written with pydicom from a known SimpleITK image."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from weakseg.errors import WeakSegError
from weakseg.io.case import load_case
from weakseg.io.dicom import is_dicom_folder, list_series, load_dicom_case, read_series, sequence_for_description
from weakseg.preprocess import to_canonical

VENDORS = ("ge", "philips", "siemens")


# --- real series ------------------------------------------------------------------------------

@pytest.mark.parametrize("vendor", VENDORS)
def test_dicom2nifti_series_match_reference(shared_data, vendor):
    folder = shared_data / "dicom" / f"dicom2nifti_{vendor}_anatomical_001"
    series = list_series(folder / "dcm")
    assert len(series) == 1 and series[0].n_files == 4 and series[0].modality == "MR"
    image = read_series(series[0].files)
    reference = sitk.ReadImage(str(folder / "001_ground_truth.nii.gz"))
    # Both grids describe the same voxels in space; the slice axis may point either way
    # (ours follows the plane normal), so compare in one canonical axis order.
    ours, theirs = to_canonical(image), to_canonical(reference)
    assert ours.GetSize() == theirs.GetSize()
    np.testing.assert_allclose(ours.GetOrigin(), theirs.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(ours.GetSpacing(), theirs.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(ours.GetDirection(), theirs.GetDirection(), atol=1e-4)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(ours), sitk.GetArrayViewFromImage(theirs))
    # the in-plane axes are the DICOM row/column directions exactly as in the reference
    np.testing.assert_allclose(np.array(image.GetDirection()).reshape(3, 3)[:, :2],
                               np.array(reference.GetDirection()).reshape(3, 3)[:, :2], atol=1e-4)


def test_dicom2nifti_folder_loads_as_case_with_warning(shared_data):
    """The real Philips series has no description; its TR/TE/TI (4800/387/1650 ms) are a 3D FLAIR's,
    and the lower confidence of a parameter-based assignment is said."""
    case = load_case(shared_data / "dicom" / "dicom2nifti_philips_anatomical_001" / "dcm")
    assert list(case.images) == ["flair"]
    assert any("TR/TE/TI" in w and "confidence 0.6" in w for w in case.warnings)
    assert case.grid.GetSize() == (240, 240, 4)


# --- synthetic series --------------------------------------------------------------------------

def _oblique(angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(a / 2), -np.sin(a / 2), 0], [np.sin(a / 2), np.cos(a / 2), 0], [0, 0, 1]])
    return rz @ rx


def _volume(seed: int, shape=(7, 20, 16), direction=None, spacing=(0.9, 0.8, 2.5), origin=(-30.0, 12.5, 40.0)) -> sitk.Image:
    rng = np.random.default_rng(seed)
    image = sitk.GetImageFromArray(rng.integers(0, 3000, size=shape).astype(np.int16))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(tuple((_oblique(17.0) if direction is None else direction).ravel()))
    return image


def write_series(image: sitk.Image, folder: Path, description: str, *, slope: float = 1.0, intercept: float = 0.0,
                 edit=None) -> str:
    """Write ``image`` as single-frame MR slices (stored = (value - intercept) / slope) in shuffled file order."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, frame_uid, study_uid = generate_uid(), "1.2.3.4.5", "1.2.3.4"
    direction = np.array(image.GetDirection()).reshape(3, 3)
    array = sitk.GetArrayFromImage(image)
    sx, sy, sz = image.GetSpacing()
    order = np.random.default_rng(len(description)).permutation(array.shape[0])
    for n, k in enumerate(order):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.PatientID, ds.StudyInstanceUID = "MR", "SYNTH", study_uid
        ds.SeriesInstanceUID, ds.SeriesDescription, ds.SeriesNumber = series_uid, description, 1 + len(description)
        ds.FrameOfReferenceUID, ds.InstanceNumber = frame_uid, int(k) + 1
        ds.ImagePositionPatient = [f"{v:.6f}" for v in image.TransformIndexToPhysicalPoint((0, 0, int(k)))]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*direction[:, 0], *direction[:, 1])]
        ds.PixelSpacing = [f"{sy:g}", f"{sx:g}"]
        ds.SliceThickness = "7.0"  # deliberately wrong: spacing must come from positions
        ds.Rows, ds.Columns = array.shape[1], array.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:g}", f"{intercept:g}"
        stored = np.round((array[k].astype(np.float64) - intercept) / slope).astype(np.int16)
        ds.PixelData = stored.tobytes()
        if edit is not None:
            edit(ds, int(k))
        ds.save_as(folder / f"IMG{n:04d}.dcm", enforce_file_format=True)
    return series_uid


def _assert_same_geometry(a: sitk.Image, b: sitk.Image) -> None:
    assert a.GetSize() == b.GetSize()
    np.testing.assert_allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(a.GetDirection(), b.GetDirection(), atol=1e-6)


def test_synthetic_oblique_multi_series_folder(tmp_path):
    flair = _volume(1)
    t1c = _volume(2) * 2  # even values: exactly representable with slope 2
    (tmp_path / "notes.txt").write_text("not DICOM")
    uid_flair = write_series(flair, tmp_path / "a" / "s1", "AX FLAIR")
    uid_t1c = write_series(t1c, tmp_path / "b", "T1 MPRAGE +C", slope=2.0, intercept=-100.0)
    assert is_dicom_folder(tmp_path) and not is_dicom_folder(tmp_path / "missing")
    series = list_series(tmp_path)
    assert {s.uid: (s.description, s.modality, s.n_files) for s in series} == {
        uid_flair: ("AX FLAIR", "MR", 7), uid_t1c: ("T1 MPRAGE +C", "MR", 7)}
    case = load_case(tmp_path)  # through the generic entry point, as the CLI does
    assert set(case.images) == {"flair", "t1c"} and case.reference == "flair"
    for name, original in (("flair", flair), ("t1c", t1c)):
        image = case.images[name]
        _assert_same_geometry(image, original)
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image), sitk.GetArrayViewFromImage(original))
    assert case.images["t1c"].GetPixelID() == sitk.sitkInt16  # integer rescale keeps integers
    assert any("missing sequence(s) t1, t2" in w for w in case.warnings)


def test_override_by_uid_and_description(tmp_path):
    first, second = _volume(3), _volume(4)
    uid1 = write_series(first, tmp_path / "one", "sequence A")
    write_series(second, tmp_path / "two", "sequence B")
    with pytest.raises(WeakSegError, match="no MR series recognised"):
        load_dicom_case(tmp_path)
    case = load_dicom_case(tmp_path, overrides={"t2": uid1, "flair": "Sequence B"})
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(case.images["t2"]), sitk.GetArrayViewFromImage(first))
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(case.images["flair"]), sitk.GetArrayViewFromImage(second))
    with pytest.raises(WeakSegError, match="neither a SeriesInstanceUID"):
        load_dicom_case(tmp_path, overrides={"t1": "1.2.999"})


def test_left_handed_grid_and_fractional_rescale(tmp_path):
    direction = np.diag([1.0, -1.0, 1.0]) @ _oblique(-25.0)  # det -1: slices stacked against the normal
    original = _volume(5, direction=direction, spacing=(1.1, 1.1, 3.3))
    write_series(original, tmp_path, "t2_tse", slope=0.5, intercept=0.25)
    image = read_series(list_series(tmp_path)[0].files)
    assert image.GetPixelID() == sitk.sitkFloat32
    ours, theirs = to_canonical(image), to_canonical(original)
    _assert_same_geometry(ours, theirs)
    expected = np.round((sitk.GetArrayFromImage(theirs) - 0.25) / 0.5) * 0.5 + 0.25
    np.testing.assert_allclose(sitk.GetArrayFromImage(ours), expected, atol=1e-4)


@pytest.mark.parametrize("problem, edit, match", [
    ("multi-frame", lambda ds, k: setattr(ds, "NumberOfFrames", 2), "multi-frame"),
    ("orientation", lambda ds, k: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 1, 0]) if k == 3 else None,
     "orientation .* differs"),
    ("no pixels", lambda ds, k: delattr(ds, "PixelData") if k == 2 else None, "no pixel data"),
    ("duplicate", lambda ds, k: setattr(ds, "ImagePositionPatient", [1, 2, 3]) if k in (1, 2) else None, "same position"),
])
def test_bad_series_are_refused_naming_the_file(tmp_path, problem, edit, match):
    write_series(_volume(6), tmp_path, "flair", edit=edit)
    with pytest.raises(WeakSegError, match=match) as info:
        read_series(list_series(tmp_path)[0].files)
    assert info.value.path and Path(info.value.path).is_relative_to(tmp_path)


def test_missing_slice_gives_non_uniform_gap_error(tmp_path):
    write_series(_volume(7), tmp_path, "flair")
    files = list_series(tmp_path)[0].files
    positions = {f: float(pydicom.dcmread(f, stop_before_pixels=True).InstanceNumber) for f in files}
    middle = sorted(files, key=positions.get)[3]
    with pytest.raises(WeakSegError, match="gaps are not uniform"):
        read_series([f for f in files if f != middle])
    with pytest.raises(WeakSegError, match="single slice"):
        read_series([middle])


@pytest.mark.parametrize("description, expected", [
    ("AX FLAIR", "flair"), ("t2_tirm_dark-fluid_tra", "flair"), ("Sag T1 FLAIR", "t1"),
    ("T1 MPRAGE +C", "t1c"), ("AX T1 POST GD", "t1c"), ("t1_mprage_sag", "t1"), ("T1W_SE", "t1"),
    ("T2W_TSE", "t2"), ("ax t2 frfse", "t2"), ("T2* GRE", None), ("DWI b1000", None), ("", None),
])
def test_sequence_from_description(description, expected):
    assert sequence_for_description(description) == expected


def test_jpeg_lossless_series_is_decoded(tmp_path):
    """JPEG Lossless (process 14) is the usual clinical compression; pydicom lacks a decoder
    for it without extra plugins, so the reader falls back to GDCM (inside SimpleITK)."""
    original = _volume(9)
    writer = sitk.ImageFileWriter()
    writer.SetImageIO("GDCMImageIO")
    writer.SetUseCompression(True)
    writer.SetCompressor("JPEG")
    writer.KeepOriginalImageUIDOn()
    for k in range(original.GetSize()[2]):
        piece = original[:, :, k : k + 1]
        for tag, value in (("0020|000e", "1.2.826.0.1.99"), ("0008|103e", "AX T2"), ("0008|0060", "MR")):
            piece.SetMetaData(tag, value)
        writer.SetFileName(str(tmp_path / f"{k}.dcm"))
        writer.Execute(piece)
    assert "JPEG Lossless" in pydicom.dcmread(tmp_path / "0.dcm").file_meta.TransferSyntaxUID.name
    case = load_dicom_case(tmp_path)
    image = case.images["t2"]
    _assert_same_geometry(image, original)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image), sitk.GetArrayViewFromImage(original))


def test_info_lists_series_with_their_assignment(tmp_path, capsys):
    from weakseg.cli import main

    uid_t1 = write_series(_volume(10), tmp_path / "x", "t1_mprage_sag")
    uid_other = write_series(_volume(11), tmp_path / "y", "localizer")
    logger = logging.getLogger("weakseg")
    saved = logger.handlers[:], logger.level, logger.propagate
    try:
        assert main(["info", "--series", "--json", str(tmp_path)]) == 0
    finally:  # main() configures the logger for a process; give other tests theirs back
        logger.handlers[:], logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])
    rows = {row["uid"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[uid_t1]["sequence"] == "t1" and rows[uid_t1]["files"] == 7
    assert rows[uid_other]["sequence"] is None and rows[uid_other]["description"] == "localizer"


def test_real_ct_series_is_not_taken_for_an_mr_sequence_unless_named(shared_data):
    folder = shared_data / "dicom" / "rtutils_sample"
    with pytest.raises(WeakSegError, match="no MR series recognised"):
        load_case(folder)
    case = load_case(folder, sequences={"flair": "PHANTOM_EXAMPLE"})
    assert case.grid.GetSize() == (512, 512, 5)
    np.testing.assert_allclose(case.grid.GetSpacing(), (0.48828125, 0.48828125, 5.0), atol=1e-6)
