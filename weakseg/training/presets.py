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

@dataclass(frozen=True)
class Preset:
    """train: TrainConfig fields; options: method options; both only fill what the user left unset."""

    name: str
    summary: str
    train: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


PRESET_NAMES = ("cpu", "gpu", "paper")


def default_preset(device: str = "auto") -> str:
    """'gpu' when training would run on CUDA, else 'cpu'."""
    from weakseg.inference.engine import resolve_device

    return "gpu" if resolve_device(device).type == "cuda" else "cpu"


def method_presets(method: str) -> dict[str, Preset]:
    """A method's presets: the ``PRESETS`` its module declares (none for an unknown method)."""
    from weakseg.methods import method_module, methods

    return dict(getattr(method_module(method), "PRESETS", None) or {}) if method in methods() else {}


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
