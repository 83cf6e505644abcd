"""Three tiny synthetic tumour cases and a tiny, fast training configuration."""

from __future__ import annotations

import json

import pytest
import torch

from weakseg.phantom import PhantomConfig, make_tumour_case, write_case

TINY_OPTIONS = dict(base=4, depth=2, branch_conv=4, branch_widths=[8, 8], branch_fc6=8, optimizer="adamw", lr=0.01,
                    k=4, m=2, n=4)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    for seed in (0, 1, 2):
        write_case(make_tumour_case(PhantomConfig.preset("tiny", seed=seed)), root / f"Phantom_{seed:04d}")
    return root


def write_config(path, dataset, out, **changes):
    """A TrainConfig JSON for the tiny dataset (1 thread, no progress bar)."""
    config = {"method": "mixed", "dataset": str(dataset), "out": str(out), "iterations": 6, "seed": 7,
              "checkpoint_every": 2, "log_every": 1, "threads": 1, "device": "cpu", "progress_bar": False,
              "validation_cases": ["Phantom_0002"], "method_options": dict(TINY_OPTIONS)}
    options = changes.pop("method_options", {})
    config.update(changes)
    config["method_options"].update(options)
    path.write_text(json.dumps(config))
    return path


@pytest.fixture()
def make_config():
    return write_config
