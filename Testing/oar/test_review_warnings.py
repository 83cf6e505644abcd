"""An OAR result says what it could not find: organs missing and anatomical rules broken are warnings.

An empty organ must never look like an organ the model examined and cleared: the CLI prints
one line per problem, the provenance keeps every check, the worker hands them to Slicer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import SimpleITK as sitk

from weakseg.oar.checks import anatomy_checks, check_organs, review_warnings, slice_thickness_warning
from weakseg.oar.classes import ORGANS
from weakseg.phantom.config import PhantomConfig
from weakseg.phantom.head_oar import make_head_case


def _organs_of(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Masks as the post-processing hands them over: not exclusive, each eye holds its lens."""
    organs = {organ.name: labels == organ.value for organ in ORGANS}
    for side in ("L", "R"):
        organs[f"Eye_{side}"] |= organs[f"Lens_{side}"]
    return organs


def _head_labels() -> tuple[np.ndarray, sitk.Image]:
    head = make_head_case(PhantomConfig.preset("small", seed=3))
    phantom = sitk.GetArrayFromImage(head.labels)
    from weakseg.oar.label_table import LABEL_TABLE

    by_name = {e["name"]: e["value"] for e in LABEL_TABLE}
    out = np.zeros(phantom.shape, np.uint8)
    for organ in ORGANS:  # phantom values -> the model's output values
        out[phantom == by_name[organ.name]] = organ.value
    return out, head


def test_a_complete_head_passes_every_check_and_gets_no_warning():
    labels, _ = _head_labels()
    organs = _organs_of(labels)
    checks = anatomy_checks(organs)
    assert checks and all(checks.values()), checks
    assert review_warnings(organs, checks) == []


def test_a_missing_eye_is_named_and_explains_the_checks_it_breaks():
    labels, _ = _head_labels()
    organs = _organs_of(labels)
    for name in ("Eye_L", "Lens_L"):
        organs[name] = np.zeros_like(organs[name])
    checks = anatomy_checks(organs)
    assert not checks["eye_L_one_component"] and not checks["lens_L_inside_eye"]
    warnings = review_warnings(organs, checks)
    assert len(warnings) == 1 and "organs not found, contour them by hand: Eye_L, Lens_L" in warnings[0]


def test_a_lens_outside_its_eye_and_swapped_sides_are_broken_rules():
    labels, _ = _head_labels()
    organs = _organs_of(labels)
    organs["Lens_R"] = np.roll(organs["Lens_R"], 12, axis=1)  # pushed 12 voxels (24 mm) back out of the globe
    organs["Hippocampus_L"], organs["Hippocampus_R"] = organs["Hippocampus_R"], organs["Hippocampus_L"]
    warnings = review_warnings(organs, anatomy_checks(organs))
    assert warnings == ["anatomy checks failed, review these organs: lens_R_inside_eye, Hippocampus_L_is_left"]
    assert anatomy_checks(organs, left_is_high_x=False)["Hippocampus_L_is_left"]  # a grid whose +x is the right


def test_every_check_names_organs_of_the_output():
    labels, _ = _head_labels()
    names = {organ.name for organ in ORGANS}
    for check in anatomy_checks(_organs_of(labels)):
        assert set(check_organs(check)) <= names and check_organs(check)


def test_segment_warns_that_a_skull_stripped_head_has_no_eyes_or_nerves(tmp_path):
    _, head = _head_labels()
    stripped = sitk.Mask(head.images["t1"], sitk.Cast(head.brain_mask, sitk.sitkUInt8))
    sitk.WriteImage(stripped, str(tmp_path / "t1.nii.gz"))
    result = subprocess.run([sys.executable, "-m", "weakseg", "segment", "--t1", str(tmp_path / "t1.nii.gz"),
                             "--model", "default-oar", "--out", str(tmp_path / "out"), "--case-id", "s"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    warning = next(line for line in result.stderr.splitlines() if "organs not found" in line)
    for organ in ("Eye_L", "Eye_R", "Lens_L", "Lens_R"):  # outside the brain mask: gone with the skull
        assert organ in warning
    assert "missing sequence" not in result.stderr  # the OAR model reads one T1: FLAIR's absence is no news
    provenance = json.loads((tmp_path / "out" / "s_provenance.json").read_text())
    assert provenance["anatomy_checks"]["eye_L_one_component"] is False


def test_slices_too_thick_for_the_small_organs_are_said_before_segmenting():
    from weakseg.io.case import assemble_case
    from weakseg.methods import input_warnings
    from weakseg.models.registry import load_model

    assert slice_thickness_warning((1.0, 1.0, 1.0), "t1") == [] and slice_thickness_warning((0.9, 0.9, 3.0), "t1") == []
    thick = sitk.Image([64, 64, 20], sitk.sitkInt16)
    thick.SetSpacing((0.78, 0.78, 6.5))
    case = assemble_case("thick", {"t1c": thick}, {}, None, "t1c", log_warnings=False)
    model = load_model("default-oar")
    (line,) = input_warnings(case, model)
    assert line.startswith("t1c voxels are 6.5 mm along one axis: the lenses, optic nerves, chiasm and pituitary")
    tumour = load_model("default-tumour-t1c")
    assert input_warnings(case, tumour) == []  # a method without the hook says nothing
