"""Methods register themselves; their hooks stay functions however their packages are imported."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from weakseg.methods import method_module, methods

HOOKS = ("train", "predict", "build_method", "estimate_iteration")


def test_hooks_stay_functions_after_every_submodule_is_imported():
    """A package's submodule named like a hook (e.g. ``predict.py``) rebinds the package attribute to the
    module the first time it is imported; ``predict_case`` then called a module ("not callable")."""
    for name in methods():
        module = method_module(name)
        for entry in pkgutil.iter_modules(getattr(module, "__path__", [])):
            importlib.import_module(f"{module.__name__}.{entry.name}")
        for hook in HOOKS:
            value = getattr(module, hook, None)
            assert value is None or inspect.isfunction(value), f"{name}.{hook} is {type(value).__name__}"
        assert callable(module.train), name
