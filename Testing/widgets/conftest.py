"""The widget tests use the MRML suite's real scene (``Testing/mrml/conftest.py``, one HeadlessSlicer per process)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_MRML = Path(__file__).resolve().parents[1] / "mrml"
if str(_MRML) not in sys.path:
    sys.path.insert(0, str(_MRML))
_spec = importlib.util.spec_from_file_location("mrml_suite_fixtures", _MRML / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
headless_slicer = getattr(_fixtures, "headless_slicer", None)  # absent without the slicer-core wheel
mrml_scene = getattr(_fixtures, "mrml_scene", None)
