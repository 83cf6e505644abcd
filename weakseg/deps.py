"""Which Python packages the engine needs, which are missing, and installing them after asking.

Inside Slicer the engine shares Slicer's interpreter, where some packages belong to Slicer
or to another extension: SimpleITK and VTK are Slicer's own builds, NumPy is pinned by
Slicer, torch comes from the PyTorch extension (CUDA-matched). Those are never installed or
upgraded here; a wrong version of one is reported for the user to fix. Nothing is checked
or installed at import: ``ensure`` is called when the user clicks a button that needs it,
and installs only after ``ask`` said yes.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Iterable

ENGINE_REQUIREMENTS = (  # keep in step with pyproject.toml [project] dependencies (a test checks it)
    "numpy>=1.26",
    "scipy>=1.11",
    "SimpleITK>=2.3",
    "scikit-image>=0.22",
    "pydicom>=3.0",
    "highdicom>=0.23",
    "torch>=2.2",
    "safetensors>=0.4",
    "tqdm>=4.66",
    "matplotlib>=3.8",
    "deepbet==1.0.2",  # brain extraction of clinical studies (weakseg.clinical.brain checks its networks' SHA-256)
)

SLICER_OWNED = frozenset({"numpy", "simpleitk", "vtk", "torch", "torchvision", "requests", "pip", "setuptools",
                          "packaging", "slicer-core"})
"""Distribution names (normalised) that Slicer or the PyTorch extension provides."""


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Problem:
    requirement: str
    installed: str | None

    @property
    def name(self) -> str:
        return normalise(re.split(r"[<>=!~\[; ]", self.requirement, maxsplit=1)[0])

    def describe(self) -> str:
        return f"{self.requirement} (not installed)" if self.installed is None else \
            f"{self.requirement} (installed: {self.installed})"


def _satisfied(requirement: str) -> Problem | None:
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return Problem(requirement, None)
    return None if req.specifier.contains(version, prereleases=True) else Problem(requirement, version)


def check(requirements: Iterable[str] = ENGINE_REQUIREMENTS,
          skip: Iterable[str] = SLICER_OWNED) -> tuple[list[Problem], list[Problem]]:
    """(installable problems, problems with packages someone else owns)."""
    owned = {normalise(s) for s in skip}
    installable, foreign = [], []
    for requirement in requirements:
        problem = _satisfied(requirement)
        if problem is not None:
            (foreign if problem.name in owned else installable).append(problem)
    return installable, foreign


def pip_install(requirements: list[str], python: str = sys.executable) -> None:
    """Install with pip in a subprocess of ``python`` (Slicer's ``slicer.util.pip_install`` is preferred there)."""
    subprocess.run([python, "-m", "pip", "install", *requirements], check=True)


class MissingDependencies(RuntimeError):
    """Packages are missing and were not installed (the user declined, or someone else owns them)."""


def ensure(ask: Callable[[list[str]], bool], install: Callable[[list[str]], None] = pip_install,
           requirements: Iterable[str] = ENGINE_REQUIREMENTS, skip: Iterable[str] = SLICER_OWNED) -> list[str]:
    """Make the requirements importable: ask once with the full list, then install; returns what was installed.

    Raises ``MissingDependencies`` when the user declines, or when a package owned by Slicer
    or the PyTorch extension is missing or too old (installing it here could break Slicer).
    """
    installable, foreign = check(requirements, skip)
    if foreign:
        raise MissingDependencies("needs " + ", ".join(p.describe() for p in foreign) +
                                  "; these come with Slicer or the PyTorch extension: install or update them there")
    if not installable:
        return []
    wanted = [p.requirement for p in installable]
    if not ask([p.describe() for p in installable]):
        raise MissingDependencies("not installed: " + ", ".join(wanted))
    install(wanted)
    return wanted
