"""Fixtures shared by every suite: where the real data is, and skipping without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("WEAKSEG_SHARED_DATA", ROOT.parent / "shared" / "data"))
BRATS18 = SHARED_DATA / "brats18"


def brats_cases() -> list[Path]:
    """The real BraTS 2018 case folders, or [] when ../shared/data is absent."""
    return sorted(p for p in BRATS18.iterdir() if p.is_dir()) if BRATS18.is_dir() else []


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (real data is only beside a developer's checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def brats_case() -> Path:
    cases = brats_cases()
    if not cases:
        pytest.skip("../shared/data/brats18 is absent")
    return cases[0]
