"""A tiny model trained for a few iterations on synthetic cases, then used to segment."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.cli import main
from weakseg.errors import WeakSegError
from weakseg.inference import InferenceConfig, segment_case
from weakseg.io import load_case
from weakseg.models import ModelCard, load_model
from weakseg.training import TrainConfig, read_events, train


def test_cli_train_then_segment(tiny_dataset, tmp_path, capsys, make_config):
    config = make_config(tmp_path / "config.json", tiny_dataset, tmp_path / "run", iterations=4, validate_every=2)
    assert main(["train", "--config", str(config), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    model_dir = tmp_path / "run" / "model"
    assert f"model        {model_dir}" in printed
    card = ModelCard.read(model_dir / "card.json")
    assert card.training["full_cases"] == ["Phantom_0000", "Phantom_0001"]
    assert card.training["validation_cases"] == ["Phantom_0002"]
    assert set(card.metrics["final"]) == {"dice_WT", "dice_TC", "dice_ET", "dice_mean"}
    events = read_events(tmp_path / "run" / "events.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and "validation" in kinds and "checkpoint" in kinds
    iterations = [e for e in events if e["event"] == "iteration"]
    assert [e["iteration"] for e in iterations] == [0, 1, 2, 3]
    assert all({"loss", "loss_seg", "loss_cls", "lr", "eta_seconds"} <= set(e) for e in iterations)
    assert (tmp_path / "run" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train"]["iterations"] == 4 and saved["method_resolved"]["base"] == 4

    case = load_case(tiny_dataset / "Phantom_0002")
    result = segment_case(case, load_model(model_dir), InferenceConfig(device="cpu"))
    assert result.labels.GetSize() == case.grid.GetSize()
    assert result.provenance["model_sha256"] == card.weights["sha256"]
    assert set(np.unique(sitk.GetArrayViewFromImage(result.labels)).tolist()) <= {0, 1, 2, 4}


def test_weak_cases_fill_the_weak_pool_and_baseline_has_no_branch(tiny_dataset, tmp_path):
    base = TrainConfig(dataset=str(tiny_dataset), iterations=2, seed=1, checkpoint_every=1, threads=1, device="cpu",
                       progress_bar=False, validation_cases=["Phantom_0002"], method_options=dict(
                           base=4, depth=2, branch_conv=4, branch_widths=[8, 8], branch_fc6=8, optimizer="ngsgd",
                           batches_per_iteration=2, mode="WT"))
    from dataclasses import replace

    mixed = train(replace(base, out=str(tmp_path / "mixed"), full_cases=["Phantom_0000"], derive_weak=True,
                          derive_weak_erosion=1))
    start = read_events(tmp_path / "mixed" / "events.jsonl")[0]
    assert start["pools"]["weak_positive"] > 0 and start["pools"]["full_positive"] > 0
    card = ModelCard.read(mixed / "card.json")
    assert card.training["weak_cases"] == ["Phantom_0001"] and card.branch_labels == ["whole tumour"]
    assert [e.value for e in card.labels] == [1]

    baseline = train(replace(base, out=str(tmp_path / "baseline"), method_options={**base.method_options, "branch": False}))
    card = ModelCard.read(baseline / "card.json")
    assert card.method == "mixed-baseline" and card.network["config"]["branches"] == 0
    assert not any(k.startswith("branches.") for k in load_model(baseline).network.state_dict())

    with pytest.raises(WeakSegError, match="has no weak labels"):
        train(replace(base, out=str(tmp_path / "x"), full_cases=["Phantom_0000"]))


def test_existing_run_is_not_overwritten_without_resume(tiny_dataset, tmp_path, make_config):
    config = TrainConfig.read(make_config(tmp_path / "c.json", tiny_dataset, tmp_path / "run", iterations=2))
    train(config)
    with pytest.raises(WeakSegError, match="--resume"):
        train(config)
    from dataclasses import replace

    with pytest.raises(WeakSegError, match="seed"):
        train(replace(config, resume=True, seed=99))


def test_weak_labels_from_the_label_store(tiny_dataset, tmp_path):
    """A case with only an annotator's slice range (weakseg.labels store) trains as slice-labelled."""
    import shutil

    from weakseg.labels import WeakLabelStore
    from weakseg.training.data import DataConfig, load_training_case, weak_from_store

    root = tmp_path / "data"
    shutil.copytree(tiny_dataset / "Phantom_0000", root / "Phantom_0000")
    weak = root / "Phantom_0001"
    shutil.copytree(tiny_dataset / "Phantom_0001", weak)
    next(weak.glob("*_seg.nii.gz")).unlink()  # no voxel labels at all
    store = WeakLabelStore.open(weak)
    store.set_slice_range("WT", "axial", 10, 20)
    store.save()

    case = load_training_case(weak, DataConfig())
    labelled = weak_from_store(case, WeakLabelStore.open(weak, create=False))
    wt = labelled.region_labels["WT"]
    z = np.arange(case.depth) + case.z_offset
    assert (wt[(z >= 10) & (z <= 20)] == 1).all() and (wt[(z < 10) | (z > 20)] == 0).all()
    assert (labelled.slice_labels[wt == 0] == 0).all()  # no tumour → every class absent

    config = TrainConfig(dataset=str(root), out=str(tmp_path / "run"), iterations=2, threads=1, device="cpu",
                         progress_bar=False, method_options=dict(base=4, depth=2, branch_conv=4, branch_widths=[8, 8],
                                                                 branch_fc6=8, optimizer="adamw", mode="WT"))
    card = ModelCard.read(train(config) / "card.json")
    assert card.training["weak_cases"] == ["Phantom_0001"] and card.training["full_cases"] == ["Phantom_0000"]


def test_cancel_saves_a_checkpoint_and_resume_finishes(tiny_dataset, tmp_path, make_config):
    import threading
    from dataclasses import replace

    from weakseg.inference import Cancelled

    config = TrainConfig.read(make_config(tmp_path / "c.json", tiny_dataset, tmp_path / "run", iterations=5,
                                          checkpoint_every=100, validation_cases=[]))
    cancel = threading.Event()

    def progress(event):
        if event["event"] == "iteration" and event["iteration"] == 1:
            cancel.set()

    with pytest.raises(Cancelled, match="iteration 2"):
        train(config, progress=progress, cancel=cancel)
    assert not (tmp_path / "run" / "model").exists()
    model = train(replace(config, resume=True))
    starts = [e for e in read_events(tmp_path / "run" / "events.jsonl") if e["event"] == "start"]
    assert [s["iteration"] for s in starts] == [0, 2]
    assert (model / "card.json").is_file()
