"""``train`` job: run the training engine, then register the model so Segment can use it at once.

Parameters: ``config`` (a ``weakseg.training.TrainConfig`` as a dict), ``register``
(copy the finished model into the user models folder, where the registry finds it by id),
``preset`` (``auto``: the device's preset, as a bare ``weakseg train``; a name; or none) that
fills what the config leaves unset, so a panel never starts the paper's GPU-sized setup on a
laptop, and ``estimate`` (time a few steps first and say how long the run will take).
Training events become progress events: ``train`` with iteration/total, losses and ETA,
and ``validation`` metrics, which the panel plots as curves.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weakseg.errors import WeakSegError
from weakseg.io.validate import safe_name
from weakseg.worker.job import parameters_as

_SKIP = {"event", "time", "iteration"}


@dataclass
class TrainParameters:
    config: dict[str, Any] = field(default_factory=dict)
    register: bool = True
    preset: str | None = None
    estimate: bool = True


def with_preset(raw: dict[str, Any], preset: str | None) -> tuple[dict[str, Any], str | None]:
    """The config with the preset's values where it has none, and the preset's name (None: none applied).

    ``auto`` follows the device and applies only to methods that have presets; a resumed run keeps the
    settings it saved."""
    from weakseg.training.presets import apply_preset, default_preset, method_presets

    method = raw.get("method") or "mixed"
    if not preset or raw.get("resume") or (preset == "auto" and not method_presets(method)):
        return raw, None
    name = default_preset(raw.get("device") or "auto") if preset == "auto" else preset
    return apply_preset(raw, name, method), name


def announce_estimate(config, preset: str | None, events) -> None:
    """'preset cpu; estimated 1000 iterations x 0.30 s = about 5 min' in the panel's log, and the first ETA."""
    from weakseg.training.presets import estimate

    found = estimate(config)
    words = f"preset {preset}" if preset else "settings as given (no preset)"
    if found is None:
        events.emit("log", level="info", message=f"{words}; no time estimate for method '{config.method}'")
        return
    events.emit("log", level="info", message=f"{words}; estimated {found.line()}")
    events.progress("train", done=0, total=config.iterations, message="estimated", eta_s=found.total_seconds)


def training_progress(events, iterations: int):
    """Adapter: training engine events → protocol progress events."""

    def forward(record: dict) -> None:
        kind = record.get("event")
        metrics = {k: v for k, v in record.items() if k not in _SKIP and isinstance(v, (int, float))}
        done = int(record.get("iteration", -1)) + 1
        if kind == "iteration":
            events.progress("train", done=done, total=iterations, metrics=metrics, eta_s=record.get("eta_seconds"))
        elif kind == "validation":
            events.progress("validation", done=done, total=iterations, metrics=metrics)
        elif kind == "start":
            events.progress("train", done=int(record.get("iteration", 0)), total=iterations,
                            message="resumed" if record.get("resumed") else "started")
        elif kind == "checkpoint":  # resumable from here on
            events.progress("train", done=done, total=iterations, message="checkpoint")
        elif kind == "done":
            events.progress("train", done=iterations, total=iterations, message="finished")

    return forward


def register_model(folder: Path, model_id: str) -> Path:
    """Copy a model folder into the user models folder under its id, replacing an older one in one rename.

    ``model_id`` must be a safe name: ``../victim`` or an absolute path can never make this
    replace (or delete) a folder outside the models folder.
    """
    from weakseg.io.output_set import staged_folder
    from weakseg.models import user_models_dir

    safe_name(model_id, "model id")
    root = user_models_dir()
    target = root / model_id
    if target.resolve().parent != root.resolve():
        raise WeakSegError("model id must name a folder directly inside the models folder", target)
    with staged_folder(target, inputs=[folder], what="registered model") as staging:
        shutil.copytree(folder, staging, dirs_exist_ok=True)
    return target


def run(parameters: dict, events, job) -> dict:
    p = parameters_as(TrainParameters, job)
    from weakseg.training.config import TrainConfig

    raw, preset = with_preset({**p.config, "progress_bar": False}, p.preset)
    config = TrainConfig.from_dict(raw, job.path)  # types, ranges, safe model id
    from weakseg.models import ModelCard
    from weakseg.training import train
    if not config.out:
        raise WeakSegError("train job needs config.out (the run folder)", job.path)
    if p.estimate and not config.resume:
        announce_estimate(config, preset, events)
    folder = Path(train(config, training_progress(events, config.iterations), threading.Event()))
    card = ModelCard.read(folder / "card.json")
    registered = register_model(folder, card.id) if p.register else None
    return {"model_folder": str(folder), "model_id": card.id, "registered": str(registered) if registered else None,
            "run_folder": str(config.out), "metrics": card.metrics, "method": card.method}
