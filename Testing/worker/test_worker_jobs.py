"""Real jobs through the worker: train registers a model; segment uses it and reports what the panel needs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.worker.client import WorkerClient


def test_train_job_registers_the_model_and_reports_progress(tiny_model, models_dir):
    registered = Path(tiny_model.result["registered"])
    assert registered == models_dir / "tiny-worker"
    card = json.loads((registered / "card.json").read_text())
    assert card["id"] == "tiny-worker" and card["method"] == "mixed"
    train = [e for e in tiny_model.events if e["event"] == "progress" and e["stage"] == "train" and e["done"]]
    assert train[-1]["done"] == train[-1]["total"] == 3
    assert any("loss" in e["metrics"] and e["eta_s"] is not None for e in train)


def test_segment_job_writes_outputs_on_the_case_grid(tiny_model, tiny_dataset, tmp_path, worker_env):
    case = sorted(tiny_dataset.iterdir())[0]
    outcome = WorkerClient("segment", {"case": str(case), "model": "tiny-worker", "out": str(tmp_path / "out"),
                                       "device": "cpu", "threads": 1}, env=worker_env).start().wait(timeout=300)
    assert outcome.ok, outcome.message
    result = outcome.result
    labels = sitk.ReadImage(result["outputs"]["labels"])
    flair = sitk.ReadImage(str(next(case.glob("*_flair.nii.gz"))))
    assert labels.GetSize() == flair.GetSize()
    np.testing.assert_allclose(labels.GetOrigin(), flair.GetOrigin(), atol=1e-4)
    assert set(np.unique(sitk.GetArrayViewFromImage(labels))) <= {0, 1, 2, 4}
    assert [label["name"] for label in result["labels"]] == ["necrosis", "edema", "enhancing"]
    assert result["model"]["id"] == "tiny-worker" and len(result["model"]["sha256"]) == 64
    assert result["provenance"]["model_sha256"] == result["model"]["sha256"]
    for item in result["low_confidence_slices"]:
        assert all(0.25 <= p <= 0.75 for p in item["p"].values())
    stages = {e["stage"] for e in outcome.events if e["event"] == "progress"}
    assert {"load", "model", "predict", "write"} <= stages
