"""Where the real data is (../shared/data), for every suite.

A module of its own, not the root conftest: a test in a folder without a conftest that writes
`from conftest import ...` gets whichever folder's conftest pytest imported last.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("WEAKSEG_SHARED_DATA", ROOT.parent / "shared" / "data"))
BRATS18 = SHARED_DATA / "brats18"


def brats_cases() -> list[Path]:
    """The real BraTS 2018 case folders, or [] when ../shared/data is absent."""
    return sorted(p for p in BRATS18.iterdir() if p.is_dir()) if BRATS18.is_dir() else []
