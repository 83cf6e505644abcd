"""Synthetic cases, deterministic from a seed: tumour brains (with infiltration and
physiological maps for paper 000), heads with organs at risk, and a realistic variant
on nilearn's MNI152 template. Used by tests, the demo and benchmarks.

Names are imported on first use, so the engine can read one submodule (e.g. the OAR
label sources) without building the tumour phantom's machinery.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "SIZES": "config", "PhantomCase": "config", "PhantomConfig": "config",
    "make_tumour_case": "tumour_case",
    "case_files": "writer", "write_case": "writer", "write_case_files": "writer",
}

__all__ = [*_WHERE, "make_head_case"]


def make_head_case(config=None):
    """A head with organs at risk (see ``weakseg.phantom.head_oar``)."""
    from weakseg.phantom.head_oar import make_head_case as _make

    return _make(config)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
