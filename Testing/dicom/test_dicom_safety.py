"""DICOM patient safety, through the real CLI: the right patient, the right sequence, the right plane.

Every study here is built from a real GE series (../shared/data/dicom) with pydicom: new
UIDs, descriptions and identities, the real pixels and geometry. Each test names the
defect of the DICOM-safety issue it guards.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from study_builder import GE_SERIES, Patient, write_series, write_study
from vendor_descriptions import VENDOR_DESCRIPTIONS
from weakseg.errors import WeakSegError
from weakseg.io.case import load_case
from weakseg.io.dicom import list_series, read_series, sequence_for_description
from weakseg.io.dicom_sequences import classify_study
from weakseg.io.overlap import coverage_fraction
from weakseg.rt.rtstruct_read import read_rtstruct
from weakseg.rt.series import read_reference_series, write_synthetic_series

FOUR = {"flair": "AX T2 FLAIR", "t1": "AX T1 PRE GAD", "t1c": "AX T1 POST GAD", "t2": "AX T2 FSE"}


def weakseg(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "weakseg", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def ge(shared_data) -> Path:
    return shared_data / GE_SERIES


def _labels_on(grid: sitk.Image) -> sitk.Image:
    """A box of label 1 through every plane of ``grid`` (so every plane has a contour)."""
    arr = np.zeros(grid.GetSize()[::-1], dtype=np.uint8)
    z, y, x = arr.shape
    arr[:, y // 3: 2 * y // 3, x // 3: 2 * x // 3] = 1
    image = sitk.GetImageFromArray(arr)
    image.CopyInformation(grid)
    return image


# --- 1. wrong patient ---------------------------------------------------------------------------

def test_segment_refuses_rtstruct_for_another_patient_before_any_work(ge, tmp_path):
    alice, bob = Patient("ALICE-77"), Patient("BOB-42", name="ROE^BOB")
    write_study(ge, tmp_path / "alice", alice, FOUR)
    other = write_series(ge, tmp_path / "bob_series", "AX T2 FLAIR", bob)
    out = tmp_path / "out"
    started = time.perf_counter()
    run = weakseg("segment", tmp_path / "alice", "--out", out, "--rtstruct", other[0].parent)
    assert run.returncode == 2, run.stderr
    message = run.stderr.strip().splitlines()[-1]
    assert "BOB-42" in message and "ALICE-77" in message and "ROE" not in message and "DOE" not in message
    assert not out.exists()
    assert time.perf_counter() - started < 30  # refused before the model ran


def test_export_refuses_a_reference_of_another_frame_of_reference(ge, tmp_path):
    """Labels from a DICOM case carry its frame of reference in their provenance; export checks it."""
    alice = Patient("ALICE-77")
    files = write_series(ge, tmp_path / "alice", "AX T2 FLAIR", alice)
    later = Patient("ALICE-77", study_uid=alice.study_uid)  # same patient, another frame of reference
    other = write_series(ge, tmp_path / "alice_later", "AX T2 FLAIR", later)
    labels = tmp_path / "res" / "case_labels.nii.gz"
    labels.parent.mkdir()
    sitk.WriteImage(_labels_on(read_series(files)), str(labels))
    (tmp_path / "res" / "case_provenance.json").write_text(json.dumps(
        {"dicom": {"frame_of_reference": alice.frame_of_reference, "study_uid": alice.study_uid}}))
    out = tmp_path / "rt.dcm"
    run = weakseg("export-rtstruct", "--labels", labels, "--reference", other[0].parent, "--out", out)
    assert run.returncode == 2 and "frame of reference" in run.stderr and not out.exists()
    run = weakseg("export-rtstruct", "--labels", labels, "--reference", files[0].parent, "--out", out)
    assert run.returncode == 0, run.stderr
    assert pydicom.dcmread(out).PatientID == "ALICE-77"


def test_export_without_identity_needs_the_series_grid_or_a_confirmed_patient(ge, tmp_path):
    files = write_series(ge, tmp_path / "s", "AX T2 FLAIR", Patient("P-1"))
    grid = read_series(files)
    shifted = _labels_on(grid)
    shifted.SetOrigin(tuple(np.array(grid.GetOrigin()) + 0.37))  # not on the series' voxel lattice
    sitk.WriteImage(shifted, str(tmp_path / "l.nii.gz"))
    out = tmp_path / "rt.dcm"
    run = weakseg("export-rtstruct", "--labels", tmp_path / "l.nii.gz", "--reference", files[0].parent, "--out", out)
    assert run.returncode == 2 and "cannot verify" in run.stderr and not out.exists()
    run = weakseg("export-rtstruct", "--labels", tmp_path / "l.nii.gz", "--reference", files[0].parent, "--out", out,
                  "--patient-id", "P-2")
    assert run.returncode == 2 and "'P-1'" in run.stderr and "'P-2'" in run.stderr and not out.exists()
    run = weakseg("export-rtstruct", "--labels", tmp_path / "l.nii.gz", "--reference", files[0].parent, "--out", out,
                  "--patient-id", "P-1")
    assert run.returncode == 0, run.stderr


# --- 2. pre-contrast T1 never taken for T1c ----------------------------------------------------

def test_vendor_description_table():
    wrong = [(vendor, text, expected, sequence_for_description(text))
             for vendor, text, expected in VENDOR_DESCRIPTIONS if sequence_for_description(text) != expected]
    pre_as_post = [w for w in wrong if w[2] == "t1" and w[3] == "t1c"]
    assert len(VENDOR_DESCRIPTIONS) >= 70
    assert len(wrong) <= 2, wrong
    assert pre_as_post == []


def test_pre_and_post_gad_study_assigns_post_as_t1c_through_info(ge, tmp_path):
    patient = Patient()
    series = write_study(ge, tmp_path, patient, {"pre": "AX T1 PRE GAD", "post": "AX T1 POST GAD",
                                                  "wo": "AX T1 WO GAD", "flair": "AX T2 FLAIR"})
    del series["wo"]  # two pre-contrast T1 candidates: equally likely t1 → refused rather than guessed
    run = weakseg("info", "--series", "--json", tmp_path)
    assert run.returncode == 2 and "equally likely t1" in run.stderr
    for path in (tmp_path / "wo").iterdir():
        path.unlink()
    run = weakseg("info", "--series", "--json", tmp_path)
    assert run.returncode == 0, run.stderr
    by_description = {row["description"]: row["sequence"] for row in json.loads(run.stdout)}
    assert by_description == {"AX T1 PRE GAD": "t1", "AX T1 POST GAD": "t1c", "AX T2 FLAIR": "flair"}


def test_contrast_agent_and_acquisition_order(ge, tmp_path):
    patient = Patient()
    write_series(ge, tmp_path / "a", "AX T1", patient, number=3, time="100500")
    write_series(ge, tmp_path / "b", "AX T1 SE", patient, number=8, time="102500", agent="GADOVIST")
    write_series(ge, tmp_path / "c", "SAG T1 3D", patient, number=9, time="103000")
    series = list_series(tmp_path)
    guesses = classify_study(series)
    by_number = {s.series_number: guesses[s.uid] for s in series}
    assert by_number[3].sequence == "t1" and "before the first post-contrast" in by_number[3].reason()
    assert by_number[8].sequence == "t1c" and "GADOVIST" in by_number[8].reason()
    assert by_number[9].sequence == "t1c" and "after a post-contrast" in by_number[9].reason()


def test_swi_and_t2star_are_not_t2(ge, tmp_path):
    patient = Patient()
    write_series(ge, tmp_path / "swi", "T2* GRE", patient, number=1)
    write_series(ge, tmp_path / "ffe", "T2W_FFE", patient, number=2)
    write_series(ge, tmp_path / "t2", "T2W_TSE", patient, number=3)
    case = load_case(tmp_path)
    assert list(case.images) == ["t2"] and case.series_uids["t2"] == list_series(tmp_path / "t2")[0].uid


# --- 3. different patients / studies never combined silently -----------------------------------

def test_series_of_another_patient_is_refused(ge, tmp_path):
    write_series(ge, tmp_path / "a", "AX T2 FLAIR", Patient("P-A"), number=1)
    write_series(ge, tmp_path / "b", "AX T2 FSE", Patient("P-B"), number=2)
    run = weakseg("info", tmp_path)
    assert run.returncode == 2 and "different patients" in run.stderr and "P-A" in run.stderr
    run = weakseg("info", tmp_path, "--allow-mixed-studies")
    assert run.returncode == 2 and "different patients" in run.stderr


def test_other_study_of_one_patient_needs_the_flag_and_is_recorded(ge, tmp_path):
    write_series(ge, tmp_path / "a", "AX T2 FLAIR", Patient("P-A"), number=1)
    write_series(ge, tmp_path / "b", "AX T2 FSE", Patient("P-A"), number=2)  # new study UID, same patient
    with pytest.raises(WeakSegError, match="different studies"):
        load_case(tmp_path)
    case = load_case(tmp_path, allow_mixed_studies=True)
    assert any("--allow-mixed-studies" in w for w in case.warnings)


# --- 4. contours at the true slice positions across a gap --------------------------------------

def _grid_case(tmp_path: Path, drop: int | None):
    grid = sitk.Image((48, 40, 12), sitk.sitkInt16)
    grid.SetSpacing((1.0, 1.0, 3.0))
    grid.SetOrigin((-20.0, -15.0, 30.0))
    series = tmp_path / "series"
    files = write_synthetic_series(grid, series, "MR")
    if drop is not None:
        files[drop].unlink()
    labels = sitk.Image(grid.GetSize(), sitk.sitkUInt8)
    labels.CopyInformation(grid)
    arr = np.zeros(grid.GetSize()[::-1], dtype=np.uint8)
    for k in range(12):  # a different square on every plane, so a one-plane shift changes every contour
        arr[k, 5 + k: 15 + k, 10: 20 + k] = 1
    labels = sitk.GetImageFromArray(arr)
    labels.CopyInformation(grid)
    sitk.WriteImage(labels, str(tmp_path / "labels.nii.gz"))
    return series, arr, grid


def test_contours_stay_on_their_planes_across_a_missing_slice(tmp_path):
    series, arr, grid = _grid_case(tmp_path, drop=5)
    out = tmp_path / "rt.dcm"
    run = weakseg("export-rtstruct", "--labels", tmp_path / "labels.nii.gz", "--reference", series, "--out", out)
    assert run.returncode == 0, run.stderr
    rois, ref = read_rtstruct(out, series)
    assert len(ref.datasets) == 11
    for k, ds in enumerate(ref.datasets):
        z = int(round((float(ds.ImagePositionPatient[2]) - 30.0) / 3.0))  # the plane's index on the full grid
        np.testing.assert_array_equal(rois[0].mask[k], arr[z].astype(bool), err_msg=f"plane {k} (z index {z})")
    run = weakseg("import-rtstruct", out, "--reference", series, "--out", tmp_path / "imported")
    assert run.returncode == 2 and "not equally spaced" in run.stderr and not (tmp_path / "imported").exists()


def test_reference_slice_without_position_is_refused(tmp_path):
    series, _, _ = _grid_case(tmp_path, drop=None)
    victim = sorted(series.iterdir())[4]
    ds = pydicom.dcmread(victim)
    del ds.ImagePositionPatient
    ds.save_as(victim, enforce_file_format=True)
    run = weakseg("export-rtstruct", "--labels", tmp_path / "labels.nii.gz", "--reference", series, "--out",
                  tmp_path / "rt.dcm")
    assert run.returncode == 2 and "ImagePositionPatient" in run.stderr and victim.name in run.stderr


# --- 5. true physical coverage of tilted series -------------------------------------------------

def test_tilted_series_coverage_is_physical_not_bounding_box():
    axial = sitk.Image((160, 160, 30), sitk.sitkUInt8)
    axial.SetOrigin((-80.0, -80.0, -15.0))
    tilted = sitk.Image((170, 170, 36), sitk.sitkUInt8)
    tilt = np.deg2rad(20.0)
    direction = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    tilted.SetDirection(direction.ravel().tolist())
    tilted.SetOrigin(tuple(-(direction @ np.array([85.0, 85.0, 18.0]))))
    ones = sitk.Image(tilted) + 1
    truth = float(sitk.GetArrayViewFromImage(sitk.Resample(ones, axial, sitk.Transform(), sitk.sitkNearestNeighbor, 0)).mean())
    assert abs(coverage_fraction(axial, tilted) - truth) < 0.02
    assert truth > 0.5


def test_tilted_reference_is_not_refused_through_the_cli(tmp_path):
    """An AC-PC-tilted FLAIR as the reference: its bounding box is much larger than its volume,
    so a box test said the axial T1 covers 41 % (refused); it covers 68 % of the FLAIR's voxels."""
    from weakseg.io.image import overlap_fraction

    tilt = np.deg2rad(25.0)
    direction = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    rng = np.random.default_rng(0)
    flair = sitk.GetImageFromArray(rng.integers(1, 500, (30, 200, 180)).astype(np.int16))
    flair.SetSpacing((1.0, 1.0, 4.0))
    flair.SetDirection(direction.ravel().tolist())
    flair.SetOrigin(tuple(-(direction @ (np.array([180, 200, 30]) * np.array([1.0, 1.0, 4.0]) / 2))))
    t1 = sitk.GetImageFromArray(rng.integers(1, 500, (90, 200, 180)).astype(np.int16))
    t1.SetOrigin((-90.0, -100.0, -45.0))
    assert overlap_fraction(t1, flair) < 0.5 < coverage_fraction(flair, t1)
    sitk.WriteImage(flair, str(tmp_path / "c_flair.nii.gz"))
    sitk.WriteImage(t1, str(tmp_path / "c_t1.nii.gz"))
    run = weakseg("info", tmp_path)
    assert run.returncode == 0, run.stderr


# --- 6. SEG with float noise in the orientation -------------------------------------------------

def test_seg_export_tolerates_orientation_noise(ge, tmp_path):
    def noise(ds, k):
        ds.ImageOrientationPatient = [f"{float(v) + 1e-8 * k:.10f}" for v in ds.ImageOrientationPatient]
    files = write_series(ge, tmp_path / "s", "Sag T1", Patient(), edit=noise)
    sitk.WriteImage(_labels_on(read_series(files)), str(tmp_path / "l.nii.gz"))
    out = tmp_path / "seg.dcm"
    run = weakseg("export-seg", "--labels", tmp_path / "l.nii.gz", "--reference", files[0].parent, "--out", out)
    assert run.returncode == 0, run.stderr
    assert "highdicom" not in run.stderr and "Warning" not in run.stderr
    seg = hd.seg.segread(out)
    assert seg.number_of_segments == 1


# --- 7. enhanced multi-frame MR -----------------------------------------------------------------

def test_enhanced_mr_reads_like_its_classic_slices(ge, tmp_path):
    files = write_series(ge, tmp_path / "classic", "AX T1 POST GAD", Patient())
    datasets = [pydicom.dcmread(f) for f in files]
    enhanced = hd.legacy.LegacyConvertedEnhancedMRImage(datasets, series_instance_uid=hd.UID(), series_number=50,
                                                        sop_instance_uid=hd.UID(), instance_number=1)
    (tmp_path / "enh").mkdir()
    enhanced.save_as(tmp_path / "enh" / "multi.dcm")
    case = load_case(tmp_path / "enh")
    classic = read_series(files)
    assert list(case.images) == ["t1c"]
    image = case.images["t1c"]
    np.testing.assert_allclose(image.GetOrigin(), classic.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(image.GetDirection(), classic.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image), sitk.GetArrayViewFromImage(classic))


# --- 8. --rtstruct checked before segmenting ------------------------------------------------------

def test_rtstruct_study_folder_is_refused_before_segmenting(tmp_path, ge):
    from weakseg.phantom import PhantomConfig, make_tumour_case, write_case

    case_dir = write_case(make_tumour_case(PhantomConfig.preset("small", seed=1)), tmp_path / "case")
    write_study(ge, tmp_path / "study", Patient(), {"a": "AX T2 FLAIR", "b": "AX T1"})
    run = weakseg("segment", case_dir, "--out", tmp_path / "out", "--rtstruct", tmp_path / "study")
    assert run.returncode == 2 and "2 image series" in run.stderr
    assert not (tmp_path / "out").exists()


# --- 9. what scanners and PACS really send ------------------------------------------------------

def test_preamble_less_files_read_like_part10_files(ge, tmp_path):
    patient = Patient()
    part10 = write_series(ge, tmp_path / "a", "AX T2 FSE", patient)
    bare = write_series(ge, tmp_path / "b", "AX T2 FSE", patient, preamble=False)
    assert bare[0].read_bytes()[128:132] != b"DICM"
    assert [s.n_files for s in list_series(tmp_path / "b")] == [4]
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read_series(bare)), sitk.GetArrayFromImage(read_series(part10)))


def test_duplicate_instance_is_read_once(ge, tmp_path, caplog):
    files = write_series(ge, tmp_path, "AX T2 FSE", Patient())
    (tmp_path / "copy_of_first.dcm").write_bytes(files[0].read_bytes())
    series = list_series(tmp_path)
    assert series[0].n_files == 4 and series[0].duplicates == 1
    assert read_series(series[0].files).GetSize()[2] == 4


def test_zip_dicomdir_and_series_folder_overrides(ge, tmp_path):
    patient = Patient()
    study = write_study(ge, tmp_path / "study", patient, {"flair": "AX T2 FLAIR", "t2": "AX T2 FSE"})
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for key, files in study.items():
            for f in files:
                handle.write(f, f"../../evil/{key}/{f.name}")  # hostile member names land nowhere but the temp folder
    from_zip = load_case(archive)
    assert set(from_zip.images) == {"flair", "t2"} and not (tmp_path.parent / "evil").exists()

    from pydicom.fileset import FileSet

    fileset = FileSet()
    for files in study.values():
        for f in files:
            fileset.add(f)
    fileset.write(tmp_path / "media")
    from_dicomdir = load_case(tmp_path / "media" / "DICOMDIR")
    assert set(from_dicomdir.images) == {"flair", "t2"}

    explicit = load_case(None, sequences={"flair": study["flair"][0].parent, "t2": study["t2"][0].parent})
    assert explicit.series_uids == from_zip.series_uids
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(explicit.images["t2"]),
                                  sitk.GetArrayViewFromImage(from_zip.images["t2"]))


def test_segment_outputs_are_pseudonymous_record_series_uids_and_warn_once(ge, tmp_path):
    named = tmp_path / "DOE_JANE_1970"  # clinic folders are often named after the patient
    write_study(ge, named, Patient(), FOUR)
    out = tmp_path / "out"
    run = weakseg("segment", named, "--out", out)
    assert run.returncode == 0, run.stderr
    names = [p.name for p in out.iterdir()]
    assert names and not any("DOE" in n for n in names)
    provenance = json.loads(next(out.glob("*_provenance.json")).read_text())
    uids = {s.description: s.uid for s in list_series(named)}
    assert provenance["series_uids"] == {k: uids[v] for k, v in FOUR.items()}
    assert "DOE" not in json.dumps(provenance["series_uids"]) and "frame_of_reference" in provenance["dicom"]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), run.stderr


def test_colour_image_gets_a_clear_message(ge, tmp_path):
    def rgb(ds, k):
        arr = ds.pixel_array.astype(np.uint8)
        ds.PixelData = np.repeat(arr[..., None], 3, axis=2).tobytes()
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit, ds.PixelRepresentation = 7, 0
    files = write_series(ge, tmp_path, "AX T2 FSE", Patient(), edit=rgb)
    run = weakseg("info", tmp_path)
    assert run.returncode == 2 and "colour image" in run.stderr and files[0].parent.name in run.stderr
