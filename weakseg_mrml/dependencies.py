"""Which engine packages each background job needs, so a button asks only for what it uses.

Export must work on a fresh Slicer, where only a few packages are missing (5.12 lacks
scikit-image; 5.10 also lacks highdicom and has pydicom 2.4), so it must not demand torch.
Versions come from the engine's one list (``weakseg.deps.ENGINE_REQUIREMENTS``); the names
per job were measured by running each job with every other engine package hidden
(``Testing/mrml/test_mrml_dependencies.py``). No Qt: the panels ask and install.
"""

from __future__ import annotations

import importlib.metadata as metadata
import sys

from weakseg import deps

_EXPORT = ("numpy", "scipy", "simpleitk", "pydicom", "scikit-image")
JOB_PACKAGES: dict[str, tuple[str, ...] | None] = {
    "segment": None,  # None: every engine requirement (torch, safetensors, matplotlib for the review montage, ...)
    "train": None,
    "export-rtstruct": _EXPORT,
    # SEG needs no contours, so no scikit-image (weakseg.rt imports it only where contours are made).
    "export-seg": tuple(n for n in _EXPORT if n != "scikit-image") + ("highdicom",),
}

TORCH = "torch"


def requirements_for(job: str) -> list[str]:
    """The engine requirement strings the worker job ``job`` imports."""
    if job not in JOB_PACKAGES:
        raise KeyError(f"unknown job '{job}' (expected {', '.join(JOB_PACKAGES)})")
    names = JOB_PACKAGES[job]
    return [r for r in deps.ENGINE_REQUIREMENTS
            if names is None or deps.Problem(r, None).name in {deps.normalise(n) for n in names}]


def split_torch(requirements: list[str]) -> tuple[str | None, list[str]]:
    """(the torch requirement or None, the rest): torch is installed by the PyTorch extension, the rest by pip."""
    torch = [r for r in requirements if deps.Problem(r, None).name == TORCH]
    return (torch[0] if torch else None), [r for r in requirements if deps.Problem(r, None).name != TORCH]


def imported_distributions(requirements: list[str], modules=None) -> list[str]:
    """Distributions among ``requirements`` whose modules this process has already imported.

    Updating one of them under a running Slicer (5.10's own pydicom 2.4, say) takes effect only
    after a restart, so the panel asks for one.
    """
    modules = sys.modules if modules is None else modules
    wanted = {deps.Problem(r, None).name for r in requirements}
    found = set()
    for top_level, distributions in metadata.packages_distributions().items():
        if top_level in modules:
            found |= {deps.normalise(d) for d in distributions} & wanted
    return sorted(found)
