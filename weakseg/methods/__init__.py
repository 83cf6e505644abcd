"""One module per method, each with the same train/predict shape; methods register themselves.

A method module (or package) under ``weakseg.methods`` declares ``METHOD = MethodInfo(...)``
and defines ``train(config, progress, cancel) -> model folder``; optionally
``predict(case, model, config, progress, cancel, case_id) -> SegmentationResult`` (default:
the shared ``weakseg.inference.segment_case``) and ``build_method(options)`` (so a run's
checkpoint can be exported). The CLI, the worker, WeakSegTrain's method list and the model
cards find methods here, so adding one never touches the engines.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from weakseg.errors import WeakSegError


@dataclass(frozen=True)
class MethodInfo:
    """What the tools need to know about a method without running it.

    sequences: the MR sequences a case must have (a card may narrow or widen this per model).
    label_kinds: weak-label kinds (``weakseg.labels``) it learns from, in the order it prefers them.
    target: which Slicer panel lists its models: 'tumour' or 'oar' (Segment), 'infiltration' (the
      Tumor module's infiltration section: EMReDL models need the clinician's masks, not just images).
    """

    name: str
    title: str
    help: str
    sequences: tuple[str, ...]
    label_kinds: tuple[str, ...] = ("full",)
    target: str = "tumour"
    trainable: bool = True


def _module_name(name: str) -> str:
    return f"weakseg.methods.{name.replace('-', '_')}"


@lru_cache(maxsize=None)
def methods() -> dict[str, MethodInfo]:
    """Every method found in this package, by name (modules without ``METHOD`` are helpers)."""
    found: dict[str, MethodInfo] = {}
    for entry in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{entry.name}")
        info = getattr(module, "METHOD", None)
        if isinstance(info, MethodInfo):
            if _module_name(info.name) != module.__name__:
                raise WeakSegError(f"method '{info.name}' must live in module {_module_name(info.name)}")
            found[info.name] = info
    return dict(sorted(found.items()))


def method_module(name: str):
    """The module implementing method ``name`` (e.g. 'mixed' → ``weakseg.methods.mixed``)."""
    if name not in methods():
        raise WeakSegError(f"unknown or not yet implemented method '{name}' (known: {', '.join(methods())})")
    return importlib.import_module(_module_name(name))


def predict_case(case, model, config=None, progress=None, cancel=None, case_id: str | None = None):
    """Segment ``case`` with ``model`` through its method's ``predict`` (the shared one when it has none)."""
    from weakseg.inference import segment_case

    module = method_module(model.card.method) if model.card.method in methods() else None
    predict = getattr(module, "predict", None)
    if predict is None:
        return segment_case(case, model, config, progress=progress, cancel=cancel, case_id=case_id)
    return predict(case, model, config, progress=progress, cancel=cancel, case_id=case_id)


def input_warnings(case, model) -> list[str]:
    """What ``model``'s method says about ``case`` as loaded, before any preprocessing (its optional
    ``input_warnings(case, model)``; e.g. the OAR method on slices too thick for the lenses)."""
    module = method_module(model.card.method) if model.card.method in methods() else None
    hook = getattr(module, "input_warnings", None)
    return list(hook(case, model)) if hook is not None else []


def required_sequences() -> dict[str, tuple[str, ...]]:
    return {name: info.sequences for name, info in methods().items()}


def runnable_methods(available: Iterable[str]) -> list[str]:
    """Methods whose sequences are all in ``available`` (for messages about a case lacking some)."""
    have = set(available)
    return [name for name, needed in required_sequences().items() if set(needed) <= have]


__all__ = ["MethodInfo", "input_warnings", "method_module", "methods", "predict_case", "required_sequences",
           "runnable_methods"]
