"""What the three modules' ScriptedLoadableModuleTests share: skip cleanly, leave nothing behind.

On a stock Slicer or the extensions factory, torch and scikit-image are not installed and a
test must not install them (Slicer 5.12's ``pip_ensure`` skips installs under ``--testing``
too), so a test skips with the list of what is missing. A test uses a private models folder
and a temporary folder, and puts the user's environment back when it ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from weakseg import deps
from weakseg_mrml.dependencies import requirements_for


def skip_unless_installed(testcase, *jobs: str) -> None:
    """``skipTest`` naming the packages the jobs need that this Python lacks."""
    missing = []
    for job in jobs:
        installable, _ = deps.check(requirements_for(job), skip=())
        missing += [p.describe() for p in installable if p.describe() not in missing]
    if missing:
        testcase.skipTest("WeakSeg self-test skipped: needs " + ", ".join(missing) +
                          " (install them with the module's Segment button or PythonSlicer -m pip)")


def scratch_folder(testcase, prefix: str) -> str:
    """A temporary folder removed when the test ends, with ``WEAKSEG_MODELS`` pointing inside it meanwhile
    (so the user's own models are neither listed nor touched) and restored afterwards."""
    root = tempfile.mkdtemp(prefix=prefix)
    old = os.environ.get("WEAKSEG_MODELS")
    os.environ["WEAKSEG_MODELS"] = os.path.join(root, "models")

    def restore():
        if old is None:
            os.environ.pop("WEAKSEG_MODELS", None)
        else:
            os.environ["WEAKSEG_MODELS"] = old
        shutil.rmtree(root, ignore_errors=True)

    testcase.addCleanup(restore)
    return root
