"""Fixtures for the worker tests: tiny synthetic cases and a tiny model trained through the worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from weakseg_mrml.demo import TINY_MIXED_OPTIONS, TINY_RUN, write_demo_cases

TINY_TRAINING = {"method": "mixed", **TINY_RUN, "method_options": TINY_MIXED_OPTIONS}
"""A few iterations of a very small network: exercises the real training path in seconds."""


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    write_demo_cases(root)
    return root


@pytest.fixture(scope="session")
def small_case(tmp_path_factory) -> Path:
    """A 78×120×120 case: inference on it lasts long enough to be interrupted."""
    return write_demo_cases(tmp_path_factory.mktemp("small"), seeds=(3,), size="small")[0]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """The user models folder the worker registers into (never the real ~/.weakseg)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def worker_env(models_dir) -> dict[str, str]:
    return {"WEAKSEG_MODELS": str(models_dir), "OMP_NUM_THREADS": "1"}


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
