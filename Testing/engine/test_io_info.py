"""Acceptance: ``weakseg info`` on a real BraTS case, label volumes checked against nibabel."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CASE = "Brats18_2013_3_1"

nib = pytest.importorskip("nibabel")


@pytest.fixture(scope="module")
def case_dir(shared_data) -> Path:
    folder = shared_data / "brats18" / CASE
    if not folder.is_dir():
        pytest.skip(f"{CASE} is absent")
    return folder


def _info(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "weakseg", "info", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120)


def _independent_volumes(case_dir: Path) -> dict[str, float]:
    """ml per label and per BraTS region, counted with nibabel on the raw file."""
    seg = nib.load(case_dir / f"{CASE}_seg.nii.gz")
    labels = np.asanyarray(seg.dataobj)
    voxel_ml = float(np.prod(seg.header.get_zooms()[:3])) / 1000.0
    out = {f"label {v}": float(np.count_nonzero(labels == v)) * voxel_ml for v in (1, 2, 4)}
    out["WT"] = float(np.count_nonzero(np.isin(labels, (1, 2, 4)))) * voxel_ml
    out["TC"] = float(np.count_nonzero(np.isin(labels, (1, 4)))) * voxel_ml
    out["ET"] = out["label 4"]
    return out


def test_info_prints_sequences_geometry_and_label_volumes(case_dir):
    result = _info(case_dir)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    text = result.stdout
    for name, suffix in (("flair", "flair"), ("t1", "t1"), ("t1c", "t1ce"), ("t2", "t2")):
        assert re.search(rf"^  {name}\s+16-bit signed integer\s+\S*{CASE}_{suffix}\.nii\.gz", text, re.M), name
    assert "missing" not in text
    assert re.search(r"^size\s+240 x 240 x 155 voxels$", text, re.M)
    assert re.search(r"^spacing\s+1 x 1 x 1 mm$", text, re.M)
    assert re.search(r"^orientation\s+LPS$", text, re.M)
    expected = _independent_volumes(case_dir)
    printed = {m.group(1).strip(): float(m.group(2)) for m in re.finditer(r"^  (label \d|WT|TC|ET)\s+([\d.]+) ml$", text, re.M)}
    assert printed.keys() == expected.keys()
    for key, ml in expected.items():
        assert printed[key] == pytest.approx(ml, abs=0.006), key
    assert expected["WT"] > 1.0  # the case has a tumour, so the comparison is not between zeros


def test_info_json_matches_nibabel(case_dir):
    result = _info(case_dir, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert sorted(info["sequences"]) == ["flair", "t1", "t1c", "t2"] and info["reference"] == "flair"
    assert info["size"] == [240, 240, 155] and info["spacing_mm"] == [1.0, 1.0, 1.0] and info["orientation"] == "LPS"
    assert info["label_convention"] == "brats2018"
    expected = _independent_volumes(case_dir)
    for value, ml in info["labels"].items():
        assert ml == pytest.approx(expected[f"label {value}"], abs=6e-4)
    for region, ml in info["regions_ml"].items():
        assert ml == pytest.approx(expected[region], abs=6e-4)
