"""Qt code the WeakSeg modules share: the Segment panel, run display, model section, installs.

Its own package (not inside one module's Lib), shipped beside ``weakseg`` and ``weakseg_mrml``
in the extension's ``qt-scripted-modules`` folder; a checkout finds it through each module's
bootstrap. Nothing is imported here, so importing the package costs nothing.
"""

import importlib
import sys

RELOADED = ("weakseg_mrml", "WeakSegQt", "WeakSegTumorLib", "WeakSegOARLib", "WeakSegTrainLib",
            "SegmentEditorWeakSegSliceLabelsLib")


def reload_packages() -> None:
    """Developer Reload: re-import the shared packages too (Slicer re-executes only the module file)."""
    for name in sorted(sys.modules):
        if name.split(".")[0] in RELOADED and name != __name__ and sys.modules[name] is not None:
            importlib.reload(sys.modules[name])
