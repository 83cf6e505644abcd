"""Both methods end to end on synthetic phantoms: ``weakseg train --method ...``, then ``weakseg segment --model``."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from weakseg.cli import main
from weakseg.errors import Cancelled, WeakSegError
from weakseg.methods.tumour_2d3d.evaluate import case_probabilities
from weakseg.models import ModelCard, load_model
from weakseg.training import TrainConfig, read_events, train
from weakseg.training.engine import export_checkpoint

from tiny2d3d import write_config


def _segment(case, model, out, capsys):
    code = main(["segment", str(case), "--model", str(model), "--out", str(out), "--device", "cpu",
                 "--preprocess", "none", "--threads", "1"])
    return code, capsys.readouterr()


def test_2d3d_trains_every_stage_through_the_cli_and_segments(tiny_dataset, tmp_path, capsys):
    config = write_config(tmp_path / "c.json", tiny_dataset, tmp_path / "run")
    assert main(["train", "--config", str(config), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "estimate" in printed and "2d-coronal" in printed and f"model        {tmp_path / 'run' / 'model'}" in printed
    run = tmp_path / "run"
    for stage in ("2d-axial", "2d-coronal", "2d-sagittal"):
        card = ModelCard.read(run / "stages" / stage / "model" / "card.json")
        assert card.network["name"] == "multiseq2d" and card.training["orientation"] == stage[3:]
        assert [e["event"] for e in read_events(run / "stages" / stage / "events.jsonl")][-1] == "done"
    card = ModelCard.read(run / "model" / "card.json")
    assert card.method == "tumour-2d3d" and card.network["name"] == "cascade2d3d"
    assert card.sequences == ["flair", "t1", "t1c", "t2"]
    assert card.training["recipe"]["loss"] == "dice_ce" and "z-score" in card.training["recipe_description"]
    assert card.training["features"] == "in-sample" and card.inference["mode"] == "patches3d"
    assert set(card.metrics["final"]) == {"dice_WT", "dice_TC", "dice_ET", "dice_mean"}
    iterations = [e for e in read_events(run / "events.jsonl") if e["event"] == "iteration"]
    assert [e["iteration"] for e in iterations] == [0, 1, 2] and all(np.isfinite(e["loss"]) for e in iterations)
    assert len(list((run / "stages" / "features").iterdir())) == 2  # the two training cases' cached maps

    model = load_model(run / "model")
    assert set(model.network.nets2d) == {"axial", "coronal", "sagittal"} and model.network.net3d.enc0[0].in_channels == 16
    assert not torch.equal(model.network.feature_std, torch.ones(12))  # training statistics, not the defaults
    code, out = _segment(tiny_dataset / "Phantom_0002", run / "model", tmp_path / "seg", capsys)
    assert code == 0, out.err
    labels = sitk.ReadImage(str(tmp_path / "seg" / "Phantom_0002_labels.nii.gz"))
    reference = sitk.ReadImage(str(next((tiny_dataset / "Phantom_0002").glob("*_flair.nii.gz"))))
    assert labels.GetSize() == reference.GetSize()
    assert set(np.unique(sitk.GetArrayViewFromImage(labels)).tolist()) <= {0, 1, 2, 4}
    provenance = json.loads((tmp_path / "seg" / "Phantom_0002_provenance.json").read_text())
    assert provenance["model_sha256"] == card.weights["sha256"] and provenance["method"] == "tumour-2d3d"

    with pytest.raises(WeakSegError, match="--resume"):
        train(TrainConfig.read(config))


def test_standard_3d_baseline_trains_and_segments(tiny_dataset, tmp_path, capsys):
    config = write_config(tmp_path / "c.json", tiny_dataset, tmp_path / "run", method="tumour-3d")
    assert main(["train", "--config", str(config), "--no-progress", "--no-estimate"]) == 0
    capsys.readouterr()
    card = ModelCard.read(tmp_path / "run" / "model" / "card.json")
    assert card.method == "tumour-3d" and card.network["config"]["orientations"] == []
    assert not (tmp_path / "run" / "stages").exists() or not any(
        p.name.startswith("2d") for p in (tmp_path / "run" / "stages").iterdir())
    assert load_model(tmp_path / "run" / "model").network.net3d.enc0[0].in_channels == 4
    code, out = _segment(tiny_dataset / "Phantom_0001", tmp_path / "run" / "model", tmp_path / "seg", capsys)
    assert code == 0, out.err
    probs, truth, regions = case_probabilities(tmp_path / "run" / "model", tiny_dataset / "Phantom_0002")
    assert not regions and all(p.shape == (4, *truth.shape) for p in probs.values())  # what the CV driver scores
    assert np.allclose(probs[True].sum(0), 1.0, atol=1e-4) and not np.allclose(probs[True], probs[False])
    with pytest.raises(WeakSegError, match="no 2D orientations"):
        train(TrainConfig.read(write_config(tmp_path / "x.json", tiny_dataset, tmp_path / "x", method="tumour-3d",
                                            method_options={"orientations": ["axial"]})))


def test_cancelled_3d_stage_resumes_to_the_weights_of_an_uninterrupted_run(tiny_dataset, tmp_path):
    options = {"orientations": ["axial"], "optimizer": "ngsgd", "batches_per_iteration_3d": 2}
    straight = train(TrainConfig.read(write_config(tmp_path / "a.json", tiny_dataset, tmp_path / "a", iterations=4,
                                                   validation_cases=[], method_options=options)))
    cancel = threading.Event()
    seen = []

    def progress(event):
        seen.append(event.get("stage"))
        if event.get("stage") == "3d" and event.get("event") == "iteration" and event["iteration"] == 1:
            cancel.set()

    config = TrainConfig.read(write_config(tmp_path / "b.json", tiny_dataset, tmp_path / "b", iterations=4,
                                           validation_cases=[], method_options=options))
    with pytest.raises(Cancelled):
        train(config, progress, cancel)
    assert "2d-axial" in seen and (tmp_path / "b" / "checkpoint.pt").is_file()
    stage_model = tmp_path / "b" / "stages" / "2d-axial" / "model" / "model.safetensors"
    before = stage_model.stat().st_mtime_ns
    from dataclasses import replace

    resumed = train(replace(config, resume=True))
    assert stage_model.stat().st_mtime_ns == before  # the finished 2D stage was skipped
    starts = [e for e in read_events(tmp_path / "b" / "events.jsonl") if e["event"] == "start"]
    assert [e["resumed"] for e in starts] == [False, True] and starts[1]["iteration"] == 2
    a, b = load_model(straight).network.state_dict(), load_model(resumed).network.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    exported = export_checkpoint(tmp_path / "b", tmp_path / "exported")
    assert load_model(exported).card.training["iterations_done"] == 4


def test_missing_sequences_pretrain_subnetworks_and_out_of_fold_features(missing_dataset, tmp_path, capsys):
    """Phantom_0003 lacks T1: each subnetwork is pretrained on every case with its sequence, the whole network
    and the 3D stage on the complete cases; a case without T1 is refused by the model, never zero-filled."""
    config = write_config(tmp_path / "c.json", missing_dataset, tmp_path / "run", iterations=2,
                          method_options={"orientations": ["axial"], "oof_folds": 2, "freeze_pretrained": True})
    assert main(["train", "--config", str(config), "--no-progress", "--no-estimate"]) == 0
    capsys.readouterr()
    stages = tmp_path / "run" / "stages"
    starts = {s: read_events(stages / s / "events.jsonl")[0]["train_cases"] for s in
              ("pretrain-axial-t1", "pretrain-axial-t2", "2d-axial", "2d-axial-fold0", "2d-axial-fold1")}
    assert starts["pretrain-axial-t1"] == ["Phantom_0000", "Phantom_0001"]
    assert starts["pretrain-axial-t2"] == ["Phantom_0000", "Phantom_0001", "Phantom_0003"]
    assert starts["2d-axial"] == ["Phantom_0000", "Phantom_0001"]
    assert starts["2d-axial-fold0"] == ["Phantom_0001"] and starts["2d-axial-fold1"] == ["Phantom_0000"]
    pretrained, whole = load_model(stages / "pretrain-axial-t2" / "model").network, load_model(stages / "2d-axial" / "model").network
    kept = pretrained.subs[3].state_dict()
    assert all(torch.equal(v, whole.subs[3].state_dict()[k]) for k, v in kept.items()
               if not k.endswith("num_batches_tracked"))  # frozen: the T2 subnetwork stays as pretrained
    assert not torch.equal(pretrained.subs[4].aux.weight, whole.subs[4].aux.weight)  # the all-sequence one trains
    card = ModelCard.read(tmp_path / "run" / "model" / "card.json")
    assert card.training["stages"]["incomplete_cases"] == ["Phantom_0003"] and card.training["features"] == "out-of-fold"
    assert card.training["stages"]["2d-axial"]["initialised_from"] == ["flair", "t1", "t1c", "t2"]
    code, out = _segment(missing_dataset / "Phantom_0003", tmp_path / "run" / "model", tmp_path / "seg", capsys)
    assert code == 2 and "lacks sequence(s) t1" in out.err and not (tmp_path / "seg").exists()


def test_a_model_for_a_sequence_subset_needs_only_those(missing_dataset, tmp_path, capsys):
    config = write_config(tmp_path / "c.json", missing_dataset, tmp_path / "run", iterations=2,
                          method_options={"orientations": ["axial"], "sequences": ["flair", "t1c"]})
    assert main(["train", "--config", str(config), "--no-progress", "--no-estimate"]) == 0
    capsys.readouterr()
    card = ModelCard.read(tmp_path / "run" / "model" / "card.json")
    assert card.sequences == ["flair", "t1c"] and not card.training["stages"]["pretrained_subnetworks"]
    assert card.training["stages"]["complete_cases"] == ["Phantom_0000", "Phantom_0001", "Phantom_0003"]
    code, out = _segment(missing_dataset / "Phantom_0003", tmp_path / "run" / "model", tmp_path / "seg", capsys)
    assert code == 0, out.err


def test_torchrun_trains_the_3d_stage_on_two_processes(tiny_dataset, tmp_path):
    import os
    import subprocess
    import sys

    config = write_config(tmp_path / "c.json", tiny_dataset, tmp_path / "ddp", method="tumour-3d", validation_cases=[])
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "weakseg", "train", "--config", str(config), "--no-progress", "--no-estimate"]
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    finished = read_events(tmp_path / "ddp" / "events.jsonl")[-1]
    assert finished["event"] == "done" and finished["world_size"] == 2
    assert finished["rank_digests"][0] == finished["rank_digests"][1]


def test_torchrun_trains_every_stage_of_the_2d3d_method_in_one_launch(tiny_dataset, tmp_path):
    """2D stage(s), feature extraction and the 3D stage share one process group: both ranks end equal."""
    import os
    import subprocess
    import sys

    config = write_config(tmp_path / "c.json", tiny_dataset, tmp_path / "ddp", validation_cases=[])
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "weakseg", "train", "--config", str(config), "--no-progress", "--no-estimate"]
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    stages = sorted(p.name for p in (tmp_path / "ddp" / "stages").iterdir() if (p / "model" / "card.json").is_file())
    assert stages and all(s.startswith(("2d-", "pretrain-")) for s in stages)
    for events in [tmp_path / "ddp" / "stages" / s / "events.jsonl" for s in stages] + [tmp_path / "ddp" / "events.jsonl"]:
        finished = read_events(events)[-1]
        assert finished["event"] == "done" and finished["world_size"] == 2, events
        assert finished["rank_digests"][0] == finished["rank_digests"][1], events
