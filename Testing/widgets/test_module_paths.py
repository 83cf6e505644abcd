"""The README's developer install loads every module: only the module folders are on sys.path.

Acceptance of issue 10 (review A1): a fresh interpreter, the checkout root and the editable
install hidden, each module folder appended as Slicer's scripted-module factory does, each
module file executed and its module class instantiated. Needs the slicer-core wheel (the
MRML classes the adapters import); Slicer's Qt application packages are stand-ins.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("slicer_core")

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("WeakSegTumor", "WeakSegOAR", "WeakSegTrain", "SegmentEditorWeakSegSliceLabels")


def test_module_folders_alone_load_all_modules():
    files = [str(ROOT / m / f"{m}.py") for m in MODULES]
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("module_path_driver.py")), str(ROOT), *files],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # The setup is really Slicer's: before any module ran, the engine was not importable.
    assert report["before"] == {"weakseg": False, "weakseg_mrml": False, "WeakSegQt": False}
    for name in MODULES:
        assert "error" not in report["loaded"][name], report["loaded"][name]
        assert report["loaded"][name]["title"]
    assert all(report["loaded"][m]["widget"] for m in MODULES[:3])
    assert Path(report["engine"]).resolve() == (ROOT / "weakseg" / "__init__.py").resolve()
    assert "startupCompleted()" in report["connected"]  # the effect registers itself once Slicer has started


def test_every_module_file_carries_the_same_bootstrap():
    blocks = set()
    for name in MODULES:
        source = (ROOT / name / f"{name}.py").read_text()
        start = source.index("def _find_checkout_packages():")
        end = source.index("_find_checkout_packages()\n", start + 30)
        blocks.add(source[start:end])
        ours = re.search(r"^(from|import) (WeakSeg|weakseg)", source, re.MULTILINE)
        assert ours is None or end < ours.start()  # it runs before anything of ours is imported
    assert len(blocks) == 1
