"""``cpu_bfloat16``: convolutions run in bfloat16 while the weights, optimiser and saved model stay float32."""

from __future__ import annotations

import logging

import pytest
import torch

from weakseg.inference.fast_network import native_bfloat16
from weakseg.models.card import ModelCard
from weakseg.training import train
from weakseg.training.events import read_events
from weakseg.training.config import TrainConfig


def _train_recording_dtypes(config: TrainConfig, monkeypatch) -> tuple:
    """Train, recording the dtype of every 2D convolution's output and of the weights it was given."""
    seen = set()
    original = torch.nn.Conv2d._conv_forward

    def recording(self, x, weight, bias):
        out = original(self, x, weight, bias)
        if torch.is_grad_enabled():  # training steps only (not the final validation)
            seen.add((out.dtype, self.weight.dtype))
        return out

    monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", recording)
    return train(config), seen


@pytest.mark.skipif(not native_bfloat16(), reason="this CPU has no native bfloat16 (AMX / AVX512-BF16)")
def test_convolutions_train_in_bfloat16_and_the_model_is_saved_in_float32(tiny_dataset, tmp_path, make_config,
                                                                          monkeypatch):
    config = TrainConfig.read(make_config(tmp_path / "c.json", tiny_dataset, tmp_path / "run", cpu_bfloat16=True))
    model, seen = _train_recording_dtypes(config, monkeypatch)
    assert seen == {(torch.bfloat16, torch.float32)}  # computed in bfloat16 from float32 master weights
    card = ModelCard.read(model / "card.json")
    assert card.training["precision"] == "bfloat16 autocast (CPU)"
    from safetensors.torch import load_file

    weights = load_file(model / card.weights["file"])
    assert {t.dtype for t in weights.values() if t.is_floating_point()} == {torch.float32}
    losses = [e["loss"] for e in read_events(tmp_path / "run" / "events.jsonl") if e["event"] == "iteration"]
    assert losses and all(torch.isfinite(torch.tensor(losses)))


def test_the_default_trains_in_float32(tiny_dataset, tmp_path, make_config, monkeypatch):
    config = TrainConfig.read(make_config(tmp_path / "c.json", tiny_dataset, tmp_path / "run"))
    model, seen = _train_recording_dtypes(config, monkeypatch)
    assert seen == {(torch.float32, torch.float32)}
    assert ModelCard.read(model / "card.json").training["precision"] == "float32"


def test_a_cpu_without_native_bfloat16_trains_in_float32_and_says_so(tiny_dataset, tmp_path, make_config,
                                                                     monkeypatch, caplog):
    import weakseg.inference.fast_network as fast

    monkeypatch.setattr(fast, "native_bfloat16", lambda: False)
    config = TrainConfig.read(make_config(tmp_path / "c.json", tiny_dataset, tmp_path / "run", cpu_bfloat16=True))
    with caplog.at_level(logging.WARNING, logger="weakseg"):
        _, seen = _train_recording_dtypes(config, monkeypatch)
    assert seen == {(torch.float32, torch.float32)}
    assert any("no native bfloat16" in r.getMessage() for r in caplog.records)
