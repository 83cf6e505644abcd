"""``weakseg infiltration`` through the real CLI: outputs, τ, and one-line refusals that write nothing."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg import brats


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "weakseg", *args], capture_output=True, text=True,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def _masks(case: Path, tmp: Path) -> tuple[Path, Path]:
    seg = sitk.ReadImage(str(next(case.glob("*_seg.nii.gz"))))
    regions = brats.regions(sitk.GetArrayFromImage(seg))
    paths = []
    for name, mask in (("core", regions["TC"]), ("flair", regions["WT"])):
        image = sitk.GetImageFromArray(mask.astype(np.uint8))
        image.CopyInformation(seg)
        paths.append(tmp / f"{name}.nii.gz")
        sitk.WriteImage(image, str(paths[-1]))
    return paths[0], paths[1]


def _volumes(path: Path) -> dict[str, float]:
    with open(path, newline="") as handle:
        return {row["segment"]: float(row["volume_cm3"]) for row in csv.DictReader(handle)}


def test_infiltration_cli_writes_probability_segments_and_volumes(tiny_model, phantom_cases, tmp_path):
    case = phantom_cases[2]
    core, flair = _masks(case, tmp_path)
    low, high = tmp_path / "low", tmp_path / "high"
    for out, tau in ((low, "0.2"), (high, "0.8")):
        done = _cli("infiltration", "--model", str(tiny_model), "--case", str(case), "--core", str(core),
                    "--flair", str(flair), "--out", str(out), "--tau", tau, "--prior")
        assert done.returncode == 0, done.stderr
    summary = json.loads((low / "infiltration.json").read_text())
    assert summary["tau"] == 0.2 and summary["tau_source"] == "--tau"
    assert json.loads((low / "infiltration-rt-names.json").read_text())["2"]["type"] == "CTV"
    probability = sitk.ReadImage(str(low / "tumour-probability.nii.gz"))
    reference = sitk.ReadImage(str(next(case.glob("*_t1.nii.gz"))))
    assert probability.GetSize() == reference.GetSize() and probability.GetOrigin() == reference.GetOrigin()
    p = sitk.GetArrayFromImage(probability)
    assert 0.0 <= p.min() and p.max() <= 1.0
    seg_low = sitk.GetArrayFromImage(sitk.ReadImage(str(low / "infiltration-segments.nii.gz")))
    seg_high = sitk.GetArrayFromImage(sitk.ReadImage(str(high / "infiltration-segments.nii.gz")))
    flair_mask = sitk.GetArrayFromImage(sitk.ReadImage(str(flair))) > 0
    core_mask = sitk.GetArrayFromImage(sitk.ReadImage(str(core))) > 0
    assert set(np.unique(seg_low)) <= {0, 1, 2, 3} and not seg_low[~flair_mask].any()
    # infiltrated and non-infiltrated oedema tile ROI2 exactly, at every tau
    roi2 = flair_mask & ~core_mask
    for seg in (seg_low, seg_high):
        assert np.array_equal(np.isin(seg, (2, 3)), roi2)
    # a higher tau can only shrink the tumour: the infiltrated segment and its volume follow
    assert (seg_high == 2).sum() <= (seg_low == 2).sum()
    assert ((seg_high == 2) & (seg_low != 2)).sum() == 0
    v_low, v_high = _volumes(low / "infiltration-volumes.csv"), _volumes(high / "infiltration-volumes.csv")
    voxel_cm3 = float(np.prod(reference.GetSpacing())) / 1000
    assert abs(v_low["Infiltrated tumour"] - (seg_low == 2).sum() * voxel_cm3) < 1e-3
    assert abs(v_low["Infiltrated tumour"] + v_low["Non-infiltrated oedema"] - v_low["FLAIR minus core (ROI2)"]) < 2e-3
    assert v_high["Infiltrated tumour"] < v_low["Infiltrated tumour"]
    assert (low / "prior-vacuity.nii.gz").is_file()


def test_bad_inputs_get_one_line_errors_and_nothing_is_written(tiny_model, phantom_cases, tmp_path):
    case = phantom_cases[2]
    core, flair = _masks(case, tmp_path)
    out = tmp_path / "out"

    def refused(*args: str, expect: str) -> None:
        done = _cli("infiltration", "--model", str(tiny_model), "--out", str(out), *args)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expect in lines[0], done.stderr
        assert not out.exists() or not any(out.iterdir())

    # core outside the FLAIR mask (masks swapped)
    refused("--case", str(case), "--core", str(flair), "--flair", str(core), expect="outside the FLAIR mask")
    # a channel on another grid
    moved = sitk.ReadImage(str(next(case.glob("*_rcbv.nii.gz"))))
    moved.SetOrigin(tuple(o + 7.5 for o in moved.GetOrigin()))
    other = tmp_path / "rcbv_moved.nii.gz"
    sitk.WriteImage(moved, str(other))
    refused("--case", str(case), "--channel", f"rcbv={other}", "--core", str(core), "--flair", str(flair),
            expect="different grid")
    # a channel the model names is missing
    partial = tmp_path / "partial"
    partial.mkdir()
    for path in case.iterdir():
        if path.is_file() and "_mtt" not in path.name:
            (partial / path.name).symlink_to(path)
    refused("--case", str(partial), "--core", str(core), "--flair", str(flair), expect="mtt")
