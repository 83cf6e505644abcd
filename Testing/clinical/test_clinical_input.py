"""Clinical input on real images: fitness checks, registration, brain extraction, labels back on the study grid.

Real data: the two thick-slice, non-skull-stripped clinical T1 studies and BraTS cases
"de-preprocessed" (random rigid motion per sequence, 5 mm slices) in ../shared/data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.clinical import ClinicalConfig, Expects, assess, prepare
from weakseg.clinical.brain import BrainConfig, extract_brain
from weakseg.clinical.grid import labels_onto, resample_onto, working_grid
from weakseg.clinical.register import _foreground_points, mean_displacement, register_rigid
from weakseg.errors import WeakSegError
from weakseg.io.case import load_case
from weakseg.phantom.clinical_like import DegradeConfig, degrade_case

pytest.importorskip("deepbet")


def weakseg(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "weakseg", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def brats(shared_data) -> Path:
    return shared_data / "brats18" / "Brats18_CBICA_AQN_1"


@pytest.fixture(scope="module")
def degraded(brats, tmp_path_factory) -> tuple[Path, dict]:
    """A BraTS case as a scanner would send it: each sequence moved, 5 mm slices; the FLAIR keeps its place."""
    case = load_case(brats, log_warnings=False)
    images, motions = degrade_case(case.images, "flair", DegradeConfig(seed=7))
    folder = tmp_path_factory.mktemp("degraded")
    for name, image in images.items():
        sitk.WriteImage(image, str(folder / f"case_{ {'t1c': 't1ce'}.get(name, name)}.nii.gz"))
    return folder, motions


def test_brats_case_is_fit_and_left_alone(brats):
    case = load_case(brats, log_warnings=False)
    fitness = assess(case, Expects())
    assert fitness.fit, fitness.summary()
    assert prepare(case, Expects(), ClinicalConfig(mode="auto")) is None


def test_raw_clinical_study_is_found_unfit_for_the_right_reasons(shared_data):
    case = load_case(None, sequences={"t1c": shared_data / "clinical" / "brain1_image.nrrd"}, reference="t1c",
                     log_warnings=False)
    fitness = assess(case, Expects())
    assert {p.check for p in fitness.problems} == {"spacing", "skull"}
    assert fitness.fixable and fitness.steps() == {"resample", "brain"}
    with pytest.raises(WeakSegError, match="skull-stripped"):
        prepare(case, Expects(), ClinicalConfig(mode="none"))


def test_registration_recovers_motion_on_thick_slices(degraded, brats):
    folder, motions = degraded
    case = load_case(folder, log_warnings=False)
    points = _foreground_points(load_case(brats, log_warnings=False).images["flair"])
    for name in ("t1", "t2"):
        found = register_rigid(case.originals["flair"], case.originals[name])
        initial = mean_displacement(sitk.Euler3DTransform(), points, motions[name].GetInverse())
        error = mean_displacement(found.transform, points, motions[name].GetInverse())
        assert initial > 3.0 and error < 1.0, (name, initial, error)


@pytest.mark.parametrize("case_name", ["Brats18_CBICA_AQN_1", "Brats18_TCIA10_637_1"])
def test_brain_extraction_keeps_the_tumour(shared_data, case_name):
    folder = shared_data / "brats18" / case_name
    case = load_case(folder, log_warnings=False)
    mask = sitk.GetArrayFromImage(extract_brain(case.images["t1"], BrainConfig()))
    tumour = sitk.GetArrayFromImage(case.labels) > 0
    brain = sitk.GetArrayFromImage(case.images["t1"]) > 0
    assert (mask.astype(bool) & tumour).sum() / tumour.sum() >= 0.99
    assert (mask.astype(bool) & brain).sum() / brain.sum() >= 0.9


def test_preprocess_command_on_a_real_clinical_study(shared_data, tmp_path):
    image = shared_data / "clinical" / "brain2_image.nrrd"
    run = weakseg("preprocess", "--t1c", image, "--reference", "t1c", "--out", tmp_path / "prep")
    assert run.returncode == 0, run.stderr
    assert "preprocessed (resample, brain)" in run.stderr
    out = tmp_path / "prep"
    report = json.loads(next(out.glob("*_preprocess.json")).read_text())
    assert [s["step"] for s in report["steps"]] == ["resample", "brain"]
    prepared = sitk.ReadImage(str(next(out.glob("*_t1ce.nii.gz"))))
    assert np.allclose(prepared.GetSpacing(), 1.0)
    mask = sitk.ReadImage(str(next(out.glob("*_brainmask.nii.gz"))))
    lesion = sitk.ReadImage(str(shared_data / "clinical" / "brain2_label.nrrd"))
    lesion_1mm = sitk.GetArrayFromImage(labels_onto(sitk.Cast(lesion > 0, sitk.sitkUInt8), mask)) > 0
    assert lesion_1mm.sum() > 0
    assert (sitk.GetArrayFromImage(mask).astype(bool) & lesion_1mm).sum() / lesion_1mm.sum() >= 0.99
    assert next(out.glob("*_before_after.png")).stat().st_size > 1000


def test_segment_preprocesses_and_answers_on_the_reference_grid(degraded, brats, tmp_path):
    folder, _ = degraded
    out = tmp_path / "out"
    run = weakseg("segment", folder, "--out", out)
    assert run.returncode == 0, run.stderr
    assert "preprocessed (register, resample)" in run.stderr
    labels = sitk.ReadImage(str(next(out.glob("*_labels.nii.gz"))))
    reference = sitk.ReadImage(str(folder / "case_flair.nii.gz"))
    assert labels.GetSize() == reference.GetSize() and np.allclose(labels.GetSpacing(), reference.GetSpacing())
    provenance = json.loads(next(out.glob("*_provenance.json")).read_text())
    steps = [s["step"] for s in provenance["preprocessing"]["steps"]]
    assert steps[:3] == ["register", "register", "register"] and steps[-1] == "labels back"
    assert not list(out.glob("*_brain.nii.gz"))  # skull-stripped already: no brain step, no mask
    truth = sitk.GetArrayFromImage(labels_onto(sitk.Cast(load_case(brats, log_warnings=False).labels > 0, sitk.sitkUInt8),
                                               reference)) > 0
    predicted = sitk.GetArrayFromImage(labels) > 0
    dice = 2 * (truth & predicted).sum() / (truth.sum() + predicted.sum())
    assert dice > 0.6, dice  # the per-case numbers against the original inputs are in docs/results/clinical-input.md


def test_unfit_and_unfixable_cases_get_one_line(shared_data, tmp_path):
    scout = sitk.ReadImage(str(shared_data / "clinical" / "brain1_image.nrrd"))[:, :, 10:12]
    (tmp_path / "scout").mkdir()
    for name in ("flair", "t1", "t1ce", "t2"):
        sitk.WriteImage(scout, str(tmp_path / "scout" / f"scout_{name}.nii.gz"))
    run = weakseg("segment", tmp_path / "scout", "--out", tmp_path / "out")
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) <= 2
    assert "slice" in run.stderr.strip().splitlines()[-1] and not (tmp_path / "out").exists()
    run = weakseg("segment", "--t2", shared_data / "clinical" / "brain1_image.nrrd", "--out", tmp_path / "o2")
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and not (tmp_path / "o2").exists(), lines
    assert "case has t2: no model of family 'default-tumour' can segment it" in lines[0] and "zero-filled" in lines[0]


def test_working_grid_and_labels_back_keep_volume():
    thick = sitk.Image((64, 64, 10), sitk.sitkUInt8)
    thick.SetSpacing((0.8, 0.8, 6.0))
    arr = np.zeros((10, 64, 64), dtype=np.uint8)
    arr[3:7, 20:40, 20:44] = 2
    labels = sitk.GetImageFromArray(arr)
    labels.CopyInformation(thick)
    grid = working_grid(thick)
    assert np.allclose(grid.GetSpacing(), 1.0)
    there = resample_onto(labels, grid, nearest=True)
    back = labels_onto(there, thick)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), arr)


def test_worker_segment_job_takes_the_preprocessing_choice(degraded, tmp_path):
    from weakseg.worker.client import WorkerClient

    folder, _ = degraded
    outcome = WorkerClient("segment", {"case": str(folder), "out": str(tmp_path / "out"), "preprocess": "none",
                                       "device": "cpu"}).start().wait(timeout=300)
    assert not outcome.ok and "not what the model was trained on" in outcome.message
    assert "--preprocess auto" in outcome.message and not (tmp_path / "out").exists()
    outcome = WorkerClient("segment", {"case": str(folder), "out": str(tmp_path / "out"), "preprocess": "sometimes"}
                           ).start().wait(timeout=120)
    assert not outcome.ok and "preprocess" in outcome.message


def test_cubic_across_slices_restores_thick_slices_better_than_linear_and_keeps_geometry():
    """A smooth head-sized signal sampled as 5 mm slices: the cubic spline across slices comes back closer
    to the 1 mm truth than linear, on the same physical extent; an isotropic image is left as it is."""
    from weakseg.clinical.grid import cubic_across_slices

    z, y, x = np.mgrid[0:100, 0:40, 0:40].astype(np.float32)
    truth_array = 100 + 50 * np.sin(z / 6.0) * np.cos(y / 9.0) + 20 * np.cos(x / 7.0)
    truth = sitk.GetImageFromArray(truth_array)
    thick = sitk.GetImageFromArray(truth_array[::5].copy())
    thick.SetSpacing((1.0, 1.0, 5.0))
    smooth = cubic_across_slices(thick, 1.0)
    assert smooth.GetSpacing() == (1.0, 1.0, 1.0) and smooth.GetSize() == (40, 40, 96)
    assert smooth.GetOrigin() == thick.GetOrigin() and smooth.GetDirection() == thick.GetDirection()
    inside = slice(0, 96)
    errors = {}
    for name in ("linear", "cubic-slices"):
        back = sitk.GetArrayFromImage(resample_onto(thick, truth, interpolation=name))[inside]
        errors[name] = float(np.abs(back - truth_array[inside]).mean())
    assert errors["cubic-slices"] < 0.3 * errors["linear"], errors
    assert cubic_across_slices(truth, 1.0) is truth


def test_t1c_only_study_is_segmented_by_the_t1c_member_on_its_own_grid(shared_data, tmp_path):
    """A real single-series post-contrast study: the default family falls back to its T1c-only model, says so,
    prepares the study and finds the lesion (docs/results/t1c-only-clinical.md has both studies)."""
    image = shared_data / "clinical" / "brain1_image.nrrd"
    out = tmp_path / "out"
    run = weakseg("segment", "--t1c", image, "--reference", "t1c", "--out", out)
    assert run.returncode == 0, run.stderr
    assert "segmenting with 'default-tumour-t1c', trained for t1c only" in run.stderr
    assert "preprocessed (resample, brain)" in run.stderr
    labels = sitk.ReadImage(str(next(out.glob("*_labels.nii.gz"))))
    study = sitk.ReadImage(str(image))
    assert labels.GetSize() == study.GetSize() and np.allclose(labels.GetSpacing(), study.GetSpacing())
    core = np.isin(sitk.GetArrayFromImage(labels), (1, 4))
    lesion = sitk.GetArrayFromImage(sitk.ReadImage(str(shared_data / "clinical" / "brain1_label.nrrd"))) > 0
    dice = 2 * (core & lesion).sum() / (core.sum() + lesion.sum())
    assert dice > 0.7, dice
    brain = sitk.ReadImage(str(next(out.glob("*_brain.nii.gz"))))  # what the model was shown, on the study's grid
    assert brain.GetSize() == study.GetSize() and np.allclose(brain.GetOrigin(), study.GetOrigin(), atol=1e-3)
    inside = sitk.GetArrayFromImage(brain) > 0
    assert (inside & lesion).sum() >= 0.99 * lesion.sum() and 0.3 < inside.mean() < 0.9
