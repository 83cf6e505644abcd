"""Training engine shared by every method: ``train(TrainConfig(...))`` returns the model folder.

The method is looked up by name in ``weakseg.methods`` (``mixed`` → ``weakseg.methods.mixed``);
each method module defines ``train(config, progress, cancel)``.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

from weakseg.errors import WeakSegError
from weakseg.errors import Cancelled
from weakseg.training.config import TrainConfig
from weakseg.training.events import Progress, read_events


def method_module(name: str):
    try:
        return importlib.import_module(f"weakseg.methods.{name.replace('-', '_')}")
    except ModuleNotFoundError:
        raise WeakSegError(f"unknown or not yet implemented method '{name}'") from None


def train(config: TrainConfig, progress: Progress | None = None, cancel: threading.Event | None = None) -> Path:
    """Run ``config.method``'s training; returns the folder holding ``card.json`` and the weights."""
    return method_module(config.method).train(config, progress, cancel)


__all__ = ["Cancelled", "TrainConfig", "method_module", "read_events", "train"]
