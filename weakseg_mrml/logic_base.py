"""Base class for the modules' Logic: Slicer's ScriptedLoadableModuleLogic when it exists.

On the slicer-core wheel there is no ``slicer.ScriptedLoadableModule`` (it needs the
application and Qt), so the Logic falls back to a plain base and takes the scene as an
argument. The Logic never imports Qt either way: everything a button does is callable
and tested without a GUI.
"""

from __future__ import annotations

try:
    from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic as _SlicerLogic
except ImportError:  # slicer-core, or plain Python
    _SlicerLogic = None


if _SlicerLogic is not None:
    class _Base(_SlicerLogic):
        def __init__(self):
            _SlicerLogic.__init__(self)
else:
    class _Base:
        def __init__(self):
            pass


class SceneLogic(_Base):
    """A Logic bound to one MRML scene (``slicer.mrmlScene`` unless given)."""

    def __init__(self, scene=None):
        _Base.__init__(self)
        self._scene = scene

    @property
    def scene(self):
        if self._scene is not None:
            return self._scene
        import slicer

        return slicer.mrmlScene
