"""Fixtures shared by every suite: where the real data is, and skipping without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_paths import BRATS18, ROOT, SHARED_DATA, brats_cases  # noqa: E402,F401  (re-exported)


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
