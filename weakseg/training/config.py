"""The run configuration, saved as ``config.json`` in every run folder.

Everything that changes what a run computes is here or in the method's own config
(``method_options``), so a run folder says exactly how its model was made, and
``--resume`` can refuse to continue a run with a different configuration.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from weakseg.errors import WeakSegError
from weakseg.io.jsonfile import read_json_object
from weakseg.io.validate import check_fields, spec, safe_name

# Fields that may differ between a run and its resumption (they do not change the result).
RESUMABLE_CHANGES = {"iterations", "resume", "progress_bar", "device", "threads", "log_every", "cache_dir", "checkpoint_every",
                      "validate_every", "description", "licence", "out"}


@dataclass
class TrainConfig:
    """A training run.

    dataset: a case folder of case folders (each fully annotated) or a dataset manifest
      (``weakseg.labels``); out: the run folder (checkpoint, events, curves, model/).
    train_cases / validation_cases: case ids; None trains on every case not held out.
    full_cases: ids trained with their voxel labels; the other training cases are
      slice-labelled (weak labels from the store, or derived from their ground truth
      when ``derive_weak`` is set: the ``derive_weak_kinds`` "slices" and/or "scribbles", as a
      simulated annotator would give them). None = every case with labels is fully annotated.
    checkpoint_every: iterations between atomic checkpoints; validate_every: between
      validations on ``validation_cases`` (0 = only at the end, if any).
    description / licence: copied into the model card (licence defaults to the BraTS note).
    method_options: the method's own config (e.g. ``weakseg.methods.mixed.MixedConfig``).
    model_id: a safe name (it becomes a folder name when the model is registered).
    family: models that are one model for different sequence subsets share a family name (on
      the card); ``weakseg segment`` falls back to the member a case has the sequences for.
    amp: mixed precision on CUDA (bfloat16, or float16 with loss scaling).
    cpu_bfloat16: bfloat16 autocast on a CPU that computes it natively (AMX / AVX512-BF16): the
      weights, optimiser and losses stay float32, convolutions run in bfloat16; about 1.6x faster
      per iteration on this project's CPU (docs/results/cpu-bfloat16.md). Off by default; a CPU
      without native support trains in float32 and says so (emulated bfloat16 is slower).

    Every field is type- and range-checked on construction (``weakseg.io.validate``), the
    same checks whether the values come from the command line, a JSON file or a job.
    """

    method: str = spec("mixed", name=True)
    dataset: str = ""
    out: str = ""
    iterations: int = spec(1000, minimum=1, maximum=10**9)
    seed: int = spec(0, minimum=0)
    train_cases: list[str] | None = None
    validation_cases: list[str] = field(default_factory=list)
    full_cases: list[str] | None = None
    derive_weak: bool = False
    derive_weak_erosion: int = spec(0, minimum=0, maximum=100)
    derive_weak_kinds: list[str] = field(default_factory=lambda: ["slices"])
    checkpoint_every: int = spec(100, minimum=1)
    validate_every: int = spec(0, minimum=0)
    log_every: int = spec(10, minimum=1)
    device: str = spec("auto", choices=("auto", "cpu", "cuda", "mps"))
    amp: bool = True
    cpu_bfloat16: bool = False
    threads: int | None = spec(None, minimum=1, maximum=1024)
    cache_dir: str | None = None
    model_id: str = spec("model", name=True)
    family: str = ""
    resume: bool = False
    progress_bar: bool = True
    description: str = ""
    licence: str = ""
    method_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fields(self, "training option ")
        from weakseg.training.data import WEAK_KINDS

        kinds = list(self.derive_weak_kinds or [])
        if not kinds or not set(kinds) <= set(WEAK_KINDS):
            raise WeakSegError(f"training option derive_weak_kinds must list {' and/or '.join(WEAK_KINDS)}, "
                               f"got {kinds}")
        if self.family:
            safe_name(self.family, "training option family")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path | None = None) -> "TrainConfig":
        if not isinstance(data, dict):
            raise WeakSegError("training configuration must be a JSON object", path)
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise WeakSegError(f"unknown training option(s) {', '.join(unknown)}", path)
        try:
            return cls(**data)
        except WeakSegError as exc:
            raise WeakSegError(exc.message, path or exc.path) from None

    @classmethod
    def read(cls, path: str | Path) -> "TrainConfig":
        return cls.from_dict(read_json_object(path, "configuration file"), path)


def check_resumable(saved: dict[str, Any], current: dict[str, Any], path: str | Path) -> None:
    """Refuse to resume when a setting that changes the result differs from the saved run."""
    defaults = {f.name: f.default_factory() if f.default_factory is not MISSING else f.default
                for f in fields(TrainConfig)}
    # a setting added after the run was saved is compared with its default (the value the run had)
    changed = sorted(k for k in set(saved) | set(current)
                     if k not in RESUMABLE_CHANGES and saved.get(k, defaults.get(k)) != current.get(k, defaults.get(k)))
    if changed:
        raise WeakSegError(f"cannot resume: setting(s) {', '.join(changed)} differ from the saved run", path)
