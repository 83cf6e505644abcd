"""Inputs that used to give wrong results with exit 0, or junk files: zero voxel spacing (defect 10), a
manifest pointing outside its dataset, weak-label masks training cannot verify, --resume without a
checkpoint, a failed run leaving config.json, a train --model-id with a path in it."""

from __future__ import annotations

import gzip
import json
import shutil
import struct

import numpy as np
import pytest
from fault_helpers import cli, snapshot

TINY_OPTIONS = dict(base=4, depth=2, branch_conv=4, branch_widths=[8, 8], branch_fc6=8, optimizer="adamw", lr=0.01,
                    k=4, m=2, n=4)


def _zero_spacing_copy(source, target, axis: int = 3):
    raw = bytearray(gzip.decompress(source.read_bytes()))
    raw[76 + 4 * axis: 80 + 4 * axis] = struct.pack("<f", 0.0)  # pixdim[axis]
    target.write_bytes(gzip.compress(bytes(raw)))
    return target


def test_zero_voxel_spacing_is_refused_naming_the_file(capsys, case_dir, model_dir, tmp_path):  # defect 10
    case = tmp_path / case_dir.name
    shutil.copytree(case_dir, case)
    flair = case / f"{case.name}_flair.nii.gz"
    _zero_spacing_copy(flair, flair)
    code, err = cli(capsys, "info", case)
    assert code == 2 and "voxel spacing" in err and str(flair) in err, err
    code, err = cli(capsys, "segment", case, "--model", model_dir, "--out", tmp_path / "out", "--device", "cpu")
    assert code == 2 and "voxel spacing" in err, err
    assert not (tmp_path / "out").exists()


def test_manifest_paths_cannot_leave_the_dataset(capsys, case_dir, tmp_path):
    data = tmp_path / "data"
    for name in ("A", "B"):
        shutil.copytree(case_dir, data / name)
    manifest = tmp_path / "manifest.json"
    assert cli(capsys, "manifest", "create", data, "--out", manifest, "--folds", "2")[0] == 0
    for hostile in ("../../etc", "/etc", "a/../../x"):
        content = json.loads(manifest.read_text())
        content["cases"][0]["path"] = hostile
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(content))
        code, err = cli(capsys, "manifest", "verify", bad)
        assert code == 2 and "outside the dataset" in err and str(bad) in err, (hostile, err)
    content = json.loads(manifest.read_text())
    first = next(iter(content["cases"][0]["files"]))
    content["cases"][0]["files"] = {"../outside.txt": "0" * 64, first: content["cases"][0]["files"][first]}
    bad.write_text(json.dumps(content))
    code, err = cli(capsys, "manifest", "verify", bad)
    assert code == 2 and "outside the dataset" in err, err


@pytest.fixture()
def weak_dataset(case_dir, tmp_path):
    """Two cases: one fully labelled, one with slice labels and a scribble mask in its weak-label store."""
    from weakseg.labels import WeakLabelStore

    root = tmp_path / "dataset"
    full = root / "Full_0001"
    shutil.copytree(case_dir, full)
    for path in full.iterdir():
        path.rename(full / path.name.replace(case_dir.name, full.name))
    weak = root / "Weak_0002"
    weak.mkdir()
    for path in full.iterdir():
        if "_seg" not in path.name:
            shutil.copy(path, weak / path.name.replace(full.name, weak.name))
    store = WeakLabelStore.open(weak)
    store.set_slice_range("WT", "axial", 10, 20)
    scribbles = np.full(store.grid.shape, -1, np.int8)
    scribbles[15, 20:24, 20:24] = 1
    store.set_scribble_labels("WT", scribbles)
    store.save()
    return root


def _config(tmp_path, dataset, out, **changes):
    config = {"method": "mixed", "dataset": str(dataset), "out": str(out), "iterations": 2, "seed": 1,
              "checkpoint_every": 1, "log_every": 1, "threads": 1, "device": "cpu", "progress_bar": False,
              "full_cases": ["Full_0001"], "method_options": dict(TINY_OPTIONS), **changes}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_training_refuses_weak_labels_it_cannot_verify_and_leaves_nothing(capsys, weak_dataset, tmp_path):
    mask = next((weak_dataset / "Weak_0002" / "weaklabels").glob("scribbles-*.nrrd"))
    mask.write_bytes(mask.read_bytes()[:-7] + b"garbage")
    before = snapshot(weak_dataset)
    run = tmp_path / "run"
    code, err = cli(capsys, "train", "--config", _config(tmp_path, weak_dataset, run))
    assert code == 2 and "SHA-256" in err and mask.name in err, err
    assert not run.exists(), f"a failed run left {sorted(p.name for p in run.iterdir())}"
    assert snapshot(weak_dataset) == before


def test_resume_without_a_checkpoint_is_an_error(capsys, weak_dataset, tmp_path):
    run = tmp_path / "run"
    code, err = cli(capsys, "train", "--config", _config(tmp_path, weak_dataset, run), "--resume")
    assert code == 2 and "no checkpoint" in err and str(run) in err, err
    assert not run.exists()


@pytest.mark.parametrize("model_id", ["../victim", "/abs/path"])
def test_train_model_id_with_a_path_is_refused(capsys, weak_dataset, tmp_path, model_id):  # defect 1 via the CLI
    code, err = cli(capsys, "train", "--config", _config(tmp_path, weak_dataset, tmp_path / "run"),
                    "--model-id", model_id)
    assert code == 2 and "model_id" in err and "not a safe name" in err, err
    assert not (tmp_path / "run").exists()
