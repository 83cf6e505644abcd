"""The Qt-free parts behind the panels' new controls: model import, device line, demo case, installs.

Model import (folder or .zip) verifies the weights against the card's SHA-256 before a model
is listed; a damaged or hostile archive leaves nothing behind. The demo case loads a phantom
that auto-assign recognises. Each job asks only for the packages its worker imports.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from weakseg.errors import WeakSegError
from weakseg_mrml.catalog import PACKAGE_MODELS, list_models
from weakseg_mrml.model_import import import_model, is_removable, remove_model

SHIPPED = PACKAGE_MODELS / "default-tumour"


@pytest.fixture
def model_copy(tmp_path):
    """The shipped model under a new id, as a user would receive it."""
    folder = tmp_path / "received" / "brain-v2"
    shutil.copytree(SHIPPED, folder)
    card = json.loads((folder / "card.json").read_text())
    card["id"] = "brain-v2"
    if "card_sha256" in card:  # the card is sealed: re-seal it, as the model's publisher would
        from weakseg.models.card import card_digest

        card["card_sha256"] = card_digest(card)
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    folder = tmp_path / "user-models"
    monkeypatch.setenv("WEAKSEG_MODELS", str(folder))
    return folder


def _zip(folder: Path, archive: Path, prefix: str = "brain-v2/") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, prefix + path.name)
    return archive


def test_import_from_folder_and_zip_lists_the_model(model_copy, user_models, tmp_path):
    entry = import_model(model_copy)
    assert entry.id == "brain-v2" and entry.folder == user_models / "brain-v2"
    assert "brain-v2" in [m.id for m in list_models("tumour")]
    version = json.loads((SHIPPED / "card.json").read_text())["version"]
    assert entry.title() == f"Brain v2 {version}" and "FLAIR" in entry.inputs_text()
    assert "BraTS" in entry.training_data and entry.licence
    with pytest.raises(WeakSegError, match="already installed"):
        import_model(model_copy)
    shutil.rmtree(entry.folder)
    from_zip = import_model(_zip(model_copy, tmp_path / "brain-v2.zip"))
    assert from_zip.folder == user_models / "brain-v2"
    assert (from_zip.folder / "model.safetensors").read_bytes() == (SHIPPED / "model.safetensors").read_bytes()
    assert [p.name for p in user_models.iterdir()] == ["brain-v2"]  # no staging folder left
    # The user can remove what they added, never the shipped model.
    shipped = next(m for m in list_models() if m.id == "default-tumour")
    assert is_removable(from_zip) and not is_removable(shipped)
    with pytest.raises(WeakSegError, match="ships with WeakSeg"):
        remove_model(shipped)
    remove_model(from_zip)
    assert "brain-v2" not in [m.id for m in list_models()] and not list(user_models.iterdir())
    assert (SHIPPED / "model.safetensors").is_file()


def test_damaged_weights_are_refused_and_nothing_is_left(model_copy, user_models, tmp_path):
    weights = model_copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(WeakSegError, match="SHA-256"):
        import_model(_zip(model_copy, tmp_path / "damaged.zip"))
    assert not [p for p in user_models.iterdir()]


def test_archive_escaping_its_folder_and_non_models_are_refused(model_copy, user_models, tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../outside.txt", "x")
    with pytest.raises(WeakSegError, match="outside the archive"):
        import_model(tmp_path / "evil.zip")
    assert not (tmp_path / "outside.txt").exists() and not (user_models / "outside.txt").exists()
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(WeakSegError, match="folder or a .zip"):
        import_model(tmp_path / "notes.txt")
    (tmp_path / "two" / "a").mkdir(parents=True)
    (tmp_path / "two" / "b").mkdir()
    with pytest.raises(WeakSegError, match="no card.json"):
        import_model(tmp_path / "two")  # a folder of folders, not a model
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(WeakSegError, match="not a readable .zip"):
        import_model(tmp_path / "broken.zip")


def test_device_line_reports_what_torch_finds():
    import torch

    from weakseg_mrml import devices

    found = devices.detect()
    assert found["torch"] == torch.__version__
    assert len(found["cuda"]) == torch.cuda.device_count() if torch.cuda.is_available() else found["cuda"] == []
    text = devices.describe(found)
    assert text.startswith("GPU: ") if found["cuda"] else text == "CPU only (no GPU found)"
    assert devices.describe({"torch": None, "cuda": [], "mps": False}).startswith("PyTorch is not installed")
    assert devices.describe({"torch": "2.5", "cuda": ["NVIDIA H200"], "mps": False}) == "GPU: NVIDIA H200 (CUDA)"


def test_demo_case_loads_four_recognised_sequences(mrml_scene, tmp_path):
    from WeakSegTumorLib.logic import WeakSegTumorLogic
    from weakseg_mrml.demo import load_demo_case

    volumes = load_demo_case(mrml_scene, tmp_path)
    assert sorted(volumes) == ["flair", "t1", "t1c", "t2"]
    assigned = WeakSegTumorLogic(mrml_scene).auto_assign()
    assert {k: v.GetID() for k, v in assigned.items()} == {k: v.GetID() for k, v in volumes.items()}


def test_each_job_asks_only_for_what_its_worker_imports():
    from weakseg import deps
    from weakseg_mrml.dependencies import imported_distributions, requirements_for, split_torch

    assert requirements_for("segment") == list(deps.ENGINE_REQUIREMENTS)
    export = requirements_for("export-rtstruct")
    assert {deps.Problem(r, None).name for r in export} == {"numpy", "scipy", "simpleitk", "pydicom", "scikit-image"}
    assert "highdicom>=0.23" in requirements_for("export-seg")
    torch, others = split_torch(requirements_for("train"))
    assert torch.startswith("torch") and all(not r.startswith("torch") for r in others)
    assert split_torch(export) == (None, export)

    assert imported_distributions(["pydicom>=3.0", "tqdm>=4.66"], {"pydicom": object()}) == ["pydicom"]
    with pytest.raises(KeyError):
        requirements_for("unknown-job")


def test_installation_check_reports_what_the_worker_sees():
    """The panel's "Check installation": the worker's own Python, package versions and devices."""
    import sys

    import numpy
    import torch

    from weakseg_mrml.devices import installation_report
    from weakseg_mrml.runs import Run

    run = Run.start("selftest", {"steps": 1})
    run.wait(120)
    lines = installation_report(run.finish())
    assert lines[0].startswith(f"Python {sys.version.split()[0]}: ")
    assert f"numpy {numpy.__version__}" in lines[1] and f"torch {torch.__version__}" in lines[1]
    assert lines[-1].startswith("Devices: cpu")
    assert installation_report({"packages": {"numpy": "2.0", "torch": "unavailable (ModuleNotFoundError)"}})[2] \
        == "Not installed yet: torch"
