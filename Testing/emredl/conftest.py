"""Shared fixtures: tiny EMReDL models trained through the real training engine on physiological phantoms."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments import emredl_phantom as ep  # noqa: E402

BRATS = ROOT.parent / "shared" / "data" / "brats18"


def train_tiny(dataset: Path, out: Path, cases: list[str], *, lam: float = 1.0, iterations: int = 60,
               channels: list[list[str]] | None = None, seed: int = 0) -> Path:
    from weakseg.training import TrainConfig, train

    options = {**ep.tiny_options(lam), "prior_epochs": 60}
    if channels is not None:
        options["channels"] = channels
    config = TrainConfig(method="emredl", dataset=str(dataset), out=str(out), iterations=iterations, seed=seed,
                         device="cpu", threads=1, train_cases=cases, progress_bar=False, log_every=1000,
                         checkpoint_every=10 ** 6, method_options=options)
    return train(config)


@pytest.fixture(scope="session")
def phantom_cases(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("emredl-phantoms")
    return [ep.write_phantom_case(root, seed) for seed in (11, 12, 13)]


@pytest.fixture(scope="session")
def tiny_model(phantom_cases, tmp_path_factory) -> Path:
    """An 11-channel EMReDL model (a functional model, not an accurate one) trained on two phantoms."""
    out = tmp_path_factory.mktemp("emredl-run")
    return train_tiny(phantom_cases[0].parent, out / "run", [p.name for p in phantom_cases[:2]])


@pytest.fixture(scope="session")
def structural_model(phantom_cases, tmp_path_factory) -> Path:
    """A model on T1, T1c, T2, FLAIR only (the BraTS input set: the prior falls back to structural channels)."""
    out = tmp_path_factory.mktemp("emredl-structural")
    channels = [["t1", "structural"], ["t1c", "structural"], ["t2", "structural"], ["flair", "structural"]]
    return train_tiny(phantom_cases[0].parent, out / "run", [p.name for p in phantom_cases[:2]], channels=channels)


import importlib.util  # noqa: E402

if importlib.util.find_spec("slicer_core") is None:
    collect_ignore_glob = ["test_mrml_*.py"]
else:
    sys.path.insert(0, str(ROOT / "Testing" / "mrml"))
    from mrml_headless import HeadlessSlicer  # noqa: E402

    @pytest.fixture
    def mrml_scene(tmp_path_factory):
        """A real vtkMRMLScene (slicer-core), cleared before and after the test."""
        slicer = HeadlessSlicer.shared(tmp_path_factory.mktemp("terminologies"))
        slicer.clear()
        yield slicer.scene
        slicer.clear()
