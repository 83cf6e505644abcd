"""Training engine shared by every method: ``train(TrainConfig(...))`` returns the model folder.

The method is looked up by name in the ``weakseg.methods`` registry (``mixed`` →
``weakseg.methods.mixed``); each method module defines ``train(config, progress, cancel)``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from weakseg.errors import Cancelled
from weakseg.methods import method_module
from weakseg.training.config import TrainConfig
from weakseg.training.events import Progress, read_events


def train(config: TrainConfig, progress: Progress | None = None, cancel: threading.Event | None = None) -> Path:
    """Run ``config.method``'s training; returns the folder holding ``card.json`` and the weights."""
    return method_module(config.method).train(config, progress, cancel)


__all__ = ["Cancelled", "TrainConfig", "method_module", "read_events", "train"]
