"""Named training presets that fit the machine (``weakseg train --preset cpu|gpu|paper``) and a time estimate.

A bare ``weakseg train`` used to run paper 001's GPU-sized setup (base 64, 10 batches per
iteration): its first iteration took 195 s on a 2-core CPU. A preset fills in every setting
the user did not give (a ``--config`` file or ``--option`` always wins):

- ``cpu``: the shipped default model's compact network (base 16, 2x in-plane downsampling,
  AdamW, one batch per iteration), ~0.3 s per iteration on one core;
- ``gpu``: a wider network at full in-plane resolution and more iterations;
- ``paper``: paper 001's own settings (base 64, normalised-gradient SGD, plateau schedule).

Without ``--preset`` and without ``--config`` the preset follows the device (CUDA → gpu,
else cpu). Every preset caches preprocessed cases (memory-mapped, see ``cache``). The
estimate times a few real training steps of the configured network on a batch of the
dataset's real slice size before the run starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from weakseg.errors import WeakSegError

COMPACT_2D = {"base": 16, "depth": 4, "same_padding": True, "branch_conv": 16, "branch_widths": [128, 96, 64, 48, 32],
              "branch_fc6": 24, "k": 4, "m": 2, "n": 4, "optimizer": "adamw", "lr": 0.002, "weight_decay": 0.0001,
              "schedule": "cosine", "inplane_downsample": 2}
"""The default model's network and optimiser (weakseg/models/default-tumour/train-config.json)."""


@dataclass(frozen=True)
class Preset:
    """train: TrainConfig fields; options: method options; both only fill what the user left unset."""

    name: str
    summary: str
    train: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, dict[str, Preset]] = {
    "mixed": {
        "cpu": Preset("cpu", "compact 2D U-Net (base 16, 2x downsampled slices, AdamW), 2200 iterations",
                      {"iterations": 2200, "checkpoint_every": 100}, dict(COMPACT_2D)),
        "gpu": Preset("gpu", "2D U-Net base 32 at full in-plane resolution, AdamW, 4 batches per iteration, "
                             "10000 iterations",
                      {"iterations": 10000, "checkpoint_every": 250, "amp": True},
                      {"base": 32, "depth": 4, "same_padding": True, "branch_conv": 32,
                       "branch_widths": [150, 125, 100, 75, 50], "branch_fc6": 25, "optimizer": "adamw", "lr": 0.001,
                       "weight_decay": 0.0001, "schedule": "cosine", "batches_per_iteration": 4,
                       "inplane_downsample": 1}),
        "paper": Preset("paper", "paper 001 as published: base 64, normalised-gradient SGD (10 batches per iteration), "
                                 "plateau halving; sized for a GPU",
                        {}, {"base": 64, "branch_conv": 32, "branch_widths": [300, 250, 200, 150, 100], "branch_fc6": 50,
                             "optimizer": "ngsgd", "schedule": "plateau", "inplane_downsample": 1}),
    },
}
PRESET_NAMES = ("cpu", "gpu", "paper")


def default_preset(device: str = "auto") -> str:
    """'gpu' when training would run on CUDA, else 'cpu'."""
    from weakseg.inference.engine import resolve_device

    return "gpu" if resolve_device(device).type == "cuda" else "cpu"


def method_presets(method: str) -> dict[str, Preset]:
    """A method's presets: its module's own ``PRESETS`` (methods register them), else this table's."""
    from weakseg.methods import method_module, methods

    own = getattr(method_module(method), "PRESETS", None) if method in methods() else None
    return dict(own or PRESETS.get(method) or {})


def get_preset(method: str, name: str) -> Preset:
    if name not in PRESET_NAMES:
        raise WeakSegError(f"unknown preset '{name}' (expected one of {', '.join(PRESET_NAMES)})")
    presets = method_presets(method)
    if not presets or name not in presets:
        raise WeakSegError(f"method '{method}' has no preset '{name}' yet")
    return presets[name]


def apply_preset(raw: dict[str, Any], name: str, method: str | None = None) -> dict[str, Any]:
    """``raw`` (a TrainConfig as a dict, possibly partial) with the preset's values for keys it lacks.

    The preset's name is recorded as the method option ``preset``; nothing the user set changes.
    """
    from weakseg.training.cache import default_cache_dir

    method = method or raw.get("method") or "mixed"
    preset = get_preset(method, name)
    out = {**{"cache_dir": str(default_cache_dir())}, **preset.train, **raw}
    options = dict(raw.get("method_options") or {})
    out["method_options"] = {**preset.options, **options, "preset": options.get("preset", name)}
    return out


# --- estimate --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    seconds_per_iteration: float
    iterations: int
    detail: str

    @property
    def total_seconds(self) -> float:
        return self.seconds_per_iteration * self.iterations

    def line(self) -> str:
        total = self.total_seconds
        when = f"{total / 3600:.1f} h" if total >= 5400 else f"{total / 60:.0f} min" if total >= 90 else f"{total:.0f} s"
        return (f"{self.iterations} iterations x {self.seconds_per_iteration:.2f} s = about {when} "
                f"(not counting validation and data loading; {self.detail})")


def time_steps(step, budget_seconds: float = 8.0, max_steps: int = 5) -> tuple[float, int]:
    """Mean seconds of ``step()`` after one warm-up call; stops early once ``budget_seconds`` are spent.

    A warm-up slower than the budget is itself the measurement (a GPU-sized setup on a CPU
    must not spend minutes estimating)."""
    started = time.perf_counter()
    step()
    warm = time.perf_counter() - started
    if warm > budget_seconds:
        return warm, 1
    times = []
    while len(times) < max_steps and sum(times) + warm < budget_seconds:
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return (sum(times) / len(times) if times else warm), len(times) or 1


def estimate(config) -> Estimate | None:
    """Time the configured method's training step, if the method can (``estimate_iteration``); else None."""
    from weakseg.training import method_module

    module = method_module(config.method)
    if not hasattr(module, "estimate_iteration"):
        return None
    seconds, detail = module.estimate_iteration(config)
    return Estimate(seconds, config.iterations, detail)


def preset_config(path: str | None, name: str | None, method: str | None, device: str | None):
    """The TrainConfig of ``weakseg train``: the --config file (if any) over the preset.

    An explicit ``name`` always applies (the file's settings win over it); without one, the
    device's preset applies only when there is no config file (a file is a complete recipe)
    and the method has presets.
    """
    from weakseg.io.jsonfile import read_json_object
    from weakseg.training.config import TrainConfig

    raw = dict(read_json_object(path, "configuration file")) if path else {}
    method = method or raw.get("method") or "mixed"
    if name is None and not path and method_presets(method):
        name = default_preset(device or raw.get("device") or "auto")
    if name is not None:
        raw = apply_preset({**raw, "method": method}, name, method)
    return TrainConfig.from_dict(raw, path)
