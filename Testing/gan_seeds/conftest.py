"""Four tiny synthetic tumour cases and one gan-seeds run on them through the real CLI, shared by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from weakseg.phantom import PhantomConfig, make_tumour_case, write_case

ROOT = Path(__file__).resolve().parents[2]

TINY = {"size": 32, "classifier_base": 6, "gan_base": 8, "unet_base": 6, "nz": 16, "batch": 16,
        "iterations_classifier": 200, "iterations_gan_a": 150, "iterations_gan_b": 200, "iterations_seg": 150,
        "seed_method": "gradcam", "lr_gan": 1e-3, "min_brain": 0.1}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def gs_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gs_dataset")
    for seed in range(4):
        write_case(make_tumour_case(PhantomConfig.preset("tiny", seed=seed)), root / f"Phantom_{seed:04d}")
    return root


def write_config(path: Path, dataset: Path, out: Path, **options) -> Path:
    config = {"method": "gan-seeds", "dataset": str(dataset), "out": str(out), "derive_weak": True,
              "derive_weak_erosion": 1, "threads": 1, "device": "cpu", "progress_bar": False, "log_every": 20,
              "checkpoint_every": 50, "seed": 3, "model_id": "gs-tiny", "method_options": {**TINY, **options}}
    path.write_text(json.dumps(config))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "weakseg", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=900)


@pytest.fixture(scope="session")
def gs_run(gs_dataset, tmp_path_factory) -> Path:
    """``weakseg train --method gan-seeds`` end to end on the tiny cases (every stage, a few iterations each)."""
    work = tmp_path_factory.mktemp("gs_run")
    config = write_config(work / "config.json", gs_dataset, work / "run")
    done = run_cli("train", "--method", "gan-seeds", "--config", str(config), "--no-estimate", "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    return work / "run"


def load_artifact(run: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(run / "artifacts" / f"{name}.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="session")
def artifact(gs_run):
    """``artifact(name)``: the arrays a stage of the run cached."""
    return lambda name: load_artifact(gs_run, name)


@pytest.fixture(scope="session")
def truth(gs_dataset, gs_run) -> np.ndarray:
    return canvas_truth(gs_dataset, gs_run)


@pytest.fixture(scope="session")
def bank(gs_dataset, gs_run):
    """The slice bank rebuilt the way the run built it (same slices, same order)."""
    from weakseg.methods.gan_seeds.bank import build_bank
    from weakseg.methods.gan_seeds.common import data_config
    from weakseg.methods.gan_seeds.config import GanSeedsConfig
    from weakseg.training.data import load_training_case, weak_from_full

    options = GanSeedsConfig.from_dict(TINY)
    seeds = load_artifact(gs_run, "seeds")
    names = [str(n) for n in seeds["case_ids"]]
    cases = [weak_from_full(load_training_case(gs_dataset / n, data_config(options), keep_full=True), 1) for n in names]
    built = build_bank(cases, options.size, options.min_brain, options.z_range)
    assert np.array_equal(built.keys, seeds["keys"])
    return built


def canvas_truth(dataset: Path, run: Path) -> np.ndarray:
    """Whole-tumour ground truth of every bank slice on the canvas, in the artifacts' (case, slice) order."""
    from weakseg.methods.gan_seeds.bank import Canvas
    from weakseg.methods.gan_seeds.common import data_config
    from weakseg.methods.gan_seeds.config import GanSeedsConfig
    from weakseg.training.data import load_training_case

    options = GanSeedsConfig.from_dict(TINY)
    seeds = load_artifact(run, "seeds")
    out = []
    cache = {}
    for case_index, z in seeds["keys"]:
        name = str(seeds["case_ids"][case_index])
        if name not in cache:
            case = load_training_case(dataset / name, data_config(options), keep_full=True)
            gt = (case.classes_full > 0)[None].astype(np.float32)
            cache[name] = Canvas(gt.shape[2], gt.shape[3], options.size).to_canvas(gt)[:, 0] > 0.5
        out.append(cache[name][z])
    return np.stack(out)


@pytest.fixture(scope="session")
def cli():
    return run_cli


@pytest.fixture(scope="session")
def gs_config():
    return write_config


@pytest.fixture(scope="session")
def tiny_options() -> dict:
    return dict(TINY)
