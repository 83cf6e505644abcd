"""TrainConfig checks its fields on construction (types, ranges, a safe model id) without changing them:
a config read back from a checkpoint still matches, so --resume accepts it."""

from __future__ import annotations

import json

import pytest

from weakseg.errors import WeakSegError
from weakseg.training.config import TrainConfig, check_resumable


def test_lists_stay_lists_so_a_saved_run_can_be_resumed():
    data = {"dataset": "d", "out": "o", "train_cases": ["a", "b"], "validation_cases": ["c"], "full_cases": ["a"],
            "method_options": {"branch_widths": [8, 8]}}
    config = TrainConfig.from_dict(data)
    assert config.train_cases == ["a", "b"] and isinstance(config.train_cases, list)
    saved = json.loads(json.dumps(config.to_dict()))
    check_resumable(saved, TrainConfig.from_dict(saved).to_dict(), "checkpoint.pt")


@pytest.mark.parametrize("changes, words", [
    ({"model_id": "../victim"}, "not a safe name"),
    ({"model_id": ""}, "non-empty name"),
    ({"iterations": 0}, "iterations"),
    ({"iterations": "many"}, "must be an integer"),
    ({"threads": True}, "threads"),
    ({"device": "tpu"}, "device"),
    ({"validation_cases": "Phantom_0002"}, "validation_cases"),
])
def test_bad_values_are_refused_by_name(changes, words):
    with pytest.raises(WeakSegError, match=words):
        TrainConfig.from_dict({"dataset": "d", "out": "o", **changes}, "config.json")
