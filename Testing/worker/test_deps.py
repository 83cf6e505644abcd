"""Dependency check and install-after-asking, on the real installed distributions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from weakseg import deps

ROOT = Path(__file__).resolve().parents[2]


def test_engine_requirements_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {deps.normalise(r) for r in deps.ENGINE_REQUIREMENTS} == {deps.normalise(r) for r in project["dependencies"]}


def test_installed_engine_has_no_problems():
    assert deps.check() == ([], [])


def test_missing_and_too_old_packages_are_found():
    installable, foreign = deps.check(["weakseg-no-such-package>=1", "scipy>=999", "numpy>=999", "numpy>=1"])
    assert [p.requirement for p in installable] == ["weakseg-no-such-package>=1", "scipy>=999"]
    assert installable[0].installed is None and installable[1].installed is not None
    assert [p.requirement for p in foreign] == ["numpy>=999"]  # Slicer's own: reported, never installed


def test_nothing_is_installed_without_consent():
    installed = []
    asked = []

    def ask(items):
        asked.append(items)
        return False

    with pytest.raises(deps.MissingDependencies, match="not installed: weakseg-no-such-package"):
        deps.ensure(ask, installed.append, ["weakseg-no-such-package>=1", "scipy>=1"])
    assert asked == [["weakseg-no-such-package>=1 (not installed)"]] and installed == []


def test_consent_installs_exactly_the_missing_packages():
    calls = []
    result = deps.ensure(lambda items: True, calls.append, ["weakseg-no-such-package>=1", "scipy>=1"])
    assert result == ["weakseg-no-such-package>=1"] and calls == [["weakseg-no-such-package>=1"]]


def test_slicer_owned_package_is_never_installed():
    calls = []
    with pytest.raises(deps.MissingDependencies, match=re.escape("torch>=999")):
        deps.ensure(lambda items: True, calls.append, ["torch>=999"])
    assert calls == []
