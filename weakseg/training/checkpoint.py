"""Checkpoints written atomically and read without unpickling code (``weights_only=True``).

A kill at any moment leaves either the previous checkpoint or the new one, never a torn
file, so ``--resume`` always finds something it can load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from weakseg.errors import WeakSegError
from weakseg.io.atomic import write_with

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts only) atomically."""
    path = Path(path)
    write_with(path, lambda tmp: torch.save(state, str(tmp)))
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise WeakSegError("no checkpoint to resume from", path)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise WeakSegError(f"checkpoint cannot be read safely ({type(exc).__name__})", path) from None
