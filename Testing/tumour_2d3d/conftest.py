"""Tiny synthetic tumour cases for the 2D-3D tests (one with a missing sequence); one torch thread."""

from __future__ import annotations

import shutil

import pytest
import torch

from weakseg.phantom import PhantomConfig, make_tumour_case, write_case


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    for seed in (0, 1, 2):
        write_case(make_tumour_case(PhantomConfig.preset("tiny", seed=seed)), root / f"Phantom_{seed:04d}")
    return root


@pytest.fixture(scope="session")
def missing_dataset(tiny_dataset, tmp_path_factory):
    """The tiny dataset plus a fourth case that has no T1."""
    root = tmp_path_factory.mktemp("missing")
    for case in tiny_dataset.iterdir():
        shutil.copytree(case, root / case.name)
    extra = root / "Phantom_0003"
    write_case(make_tumour_case(PhantomConfig.preset("tiny", seed=3)), extra)
    next(extra.glob("*_t1.nii.gz")).unlink()
    return root
