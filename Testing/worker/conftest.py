"""Fixtures for the worker tests: tiny synthetic cases and a tiny model trained through the worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TINY_TRAINING = {  # a few iterations of a very small network: exercises the real path in seconds
    "method": "mixed", "iterations": 3, "checkpoint_every": 3, "log_every": 1, "device": "cpu", "amp": False,
    "threads": 1, "method_options": {"base": 4, "depth": 2, "optimizer": "adamw", "branch_widths": [8, 8],
                                     "branch_conv": 4, "branch_fc6": 4, "k": 1, "m": 1, "n": 1},
}


def write_tiny_cases(root: Path, seeds=(1, 2)) -> list[Path]:
    from weakseg.phantom import PhantomConfig, make_tumour_case, write_case

    folders = []
    for seed in seeds:
        config = PhantomConfig.preset("tiny", seed=seed)
        folders.append(write_case(make_tumour_case(config), root / config.identifier))
    return folders


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    write_tiny_cases(root)
    return root


@pytest.fixture(scope="session")
def small_case(tmp_path_factory) -> Path:
    """A 78×120×120 case: inference on it lasts long enough to be interrupted."""
    from weakseg.phantom import PhantomConfig, make_tumour_case, write_case

    config = PhantomConfig.preset("small", seed=3)
    return write_case(make_tumour_case(config), tmp_path_factory.mktemp("small") / config.identifier)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """The user models folder the worker registers into (never the real ~/.weakseg)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def worker_env(models_dir) -> dict[str, str]:
    return {"WEAKSEG_MODELS": str(models_dir), "OMP_NUM_THREADS": "1"}


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (dead, not yet reaped by its new parent) counts as ended."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.fixture(scope="session")
def tiny_model(tiny_dataset, tmp_path_factory, worker_env) -> dict:
    """Train a tiny model with the ``train`` job (registers it in ``models_dir``); returns the outcome."""
    from weakseg.worker.client import WorkerClient

    out = tmp_path_factory.mktemp("run")
    config = {**TINY_TRAINING, "dataset": str(tiny_dataset), "out": str(out), "model_id": "tiny-worker"}
    outcome = WorkerClient("train", {"config": config}, env=worker_env).start().wait(timeout=300)
    assert outcome.ok, outcome.message + "\n" + "\n".join(outcome.stderr_tail[-20:])
    return outcome


if os.name != "posix":
    collect_ignore_glob = ["test_worker_cancel.py"]
