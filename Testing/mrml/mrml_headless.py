"""A real MRML scene without Slicer: the slicer-core wheel, initialised as Slicer's application does.

Slicer's desktop application wires up converter rules, module logics, default colours and
subject-hierarchy items in C++ and Qt code. The wheel has none of that, so a bare scene cannot
even create an empty segment. ``HeadlessSlicer`` performs the same steps (developer notes
§4.2), in order. Written for these tests; imported by ``conftest.py`` only when the wheel is there.
"""

from __future__ import annotations

import contextlib
import sys
import types
from pathlib import Path

import slicer  # the wheel's meta-package, not Slicer's application package
from vtkmodules.util.misc import calldata_type
from vtkmodules.util.vtkConstants import VTK_OBJECT
from vtkmodules.vtkCommonCore import vtkCollection, vtkLogger, vtkOutputWindow

ROOT = Path(__file__).resolve().parents[2]
# Module folders are what Slicer puts on sys.path; the Logic lives in <Module>Lib packages.
for _module in ("WeakSegTumor", "WeakSegOAR", "WeakSegTrain"):
    _path = str(ROOT / _module)
    if _path not in sys.path:
        sys.path.insert(0, _path)

_CONVERTER_RULES = (
    "vtkBinaryLabelmapToClosedSurfaceConversionRule",
    "vtkClosedSurfaceToBinaryLabelmapConversionRule",
    "vtkClosedSurfaceToFractionalLabelmapConversionRule",
    "vtkFractionalLabelmapToClosedSurfaceConversionRule",
)
_SH_TRACKED = ("vtkMRMLDisplayableNode", "vtkMRMLTableNode")


@contextlib.contextmanager
def _quiet_vtk():
    """Silence VTK's error output for a call whose errors are expected and harmless."""
    window = vtkOutputWindow.GetInstance()
    verbosity = vtkLogger.GetCurrentVerbosityCutoff()
    window.SetDisplayModeToNever()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
    try:
        yield
    finally:
        vtkLogger.SetStderrVerbosity(verbosity)
        window.SetDisplayModeToAlwaysStdErr()


class _Logic:
    """What ``slicer.modules.<name>`` offers that ``slicer.util`` uses: a ``logic()`` method."""

    def __init__(self, logic):
        self._logic = logic

    def logic(self):
        return self._logic


class HeadlessSlicer:
    """Scene, application logic and the module logics, set up in the order Slicer uses."""

    _shared: "HeadlessSlicer | None" = None

    @classmethod
    def shared(cls, terminology_dir: Path) -> "HeadlessSlicer":
        """One per process: the MRML and widget suites share it (a second would replace ``slicer.mrmlScene``)."""
        if cls._shared is None:
            cls._shared = cls(terminology_dir)
        return cls._shared

    def __init__(self, terminology_dir: Path):
        vtkOutputWindow.GetInstance().SetDisplayModeToAlwaysStdErr()
        factory = slicer.vtkSegmentationConverterFactory.GetInstance()
        for rule in _CONVERTER_RULES:  # 1. converter rules (keyed by name: never twice)
            factory.RegisterConverterRule(getattr(slicer, rule)())

        self.scene = slicer.vtkMRMLScene()  # 2. scene + application logic
        self.app_logic = slicer.vtkSlicerApplicationLogic()
        self.app_logic.SetMRMLScene(self.scene)
        color_logic = self.app_logic.GetColorLogic()
        color_logic.SetMRMLScene(self.scene)
        color_logic.AddDefaultColorNodes()
        self.app_logic.SetSliceLogics(vtkCollection())
        self.app_logic.SetViewLogics(vtkCollection())
        self.app_logic.SetModuleLogic("Colors", color_logic)  # 3. labelmaps need a Colors logic
        self._add_generic_colors()  # 4. the ColorFiles share folder is not in the wheel

        self.logics = {}
        for name, cls in (  # 5. module logics
            ("Volumes", "vtkSlicerVolumesLogic"),
            ("Segmentations", "vtkSlicerSegmentationsModuleLogic"),
            ("SubjectHierarchy", "vtkSlicerSubjectHierarchyModuleLogic"),
            ("Terminologies", "vtkSlicerTerminologiesModuleLogic"),
            ("Data", "vtkSlicerDataModuleLogic"),
        ):
            logic = getattr(slicer, cls)()
            logic.SetMRMLApplicationLogic(self.app_logic)
            if name == "Terminologies":  # 6. share folder before the scene is set
                logic.SetModuleShareDirectory(str(terminology_dir))
                with _quiet_vtk():  # the wheel ships no .term.json: six expected "Failed to load" messages
                    logic.SetMRMLScene(self.scene)
            else:
                logic.SetMRMLScene(self.scene)
            self.app_logic.SetModuleLogic(name, logic)
            self.logics[name] = logic
        self._observe_subject_hierarchy()  # 7. SH items for new data nodes, as Qt does in Slicer
        self._install_util_shims(color_logic)  # 8. what slicer.util reads from the application

    def _add_generic_colors(self) -> None:
        color_id = slicer.vtkMRMLColorLogic.GetFileColorNodeID("GenericColors.txt")
        if self.scene.GetNodeByID(color_id):
            return
        labels = self.scene.GetNodeByID("vtkMRMLColorTableNodeLabels")
        generic = slicer.vtkMRMLColorTableNode()
        generic.Copy(labels)
        generic.SetName("GenericColors")
        generic.SetSingletonTag("FileGenericColors.txt")
        self.scene.AddNode(generic)
        assert generic.GetID() == color_id, (generic.GetID(), color_id)

    def _observe_subject_hierarchy(self) -> None:
        sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)

        @calldata_type(VTK_OBJECT)
        def added(_caller, _event, node):
            sh_node = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
            if node.GetHideFromEditors() or not any(node.IsA(c) for c in _SH_TRACKED):
                return
            if sh_node.GetItemByDataNode(node) == 0:
                sh_node.CreateItem(sh_node.GetSceneItemID(), node)

        @calldata_type(VTK_OBJECT)
        def removed(_caller, _event, node):
            sh_node = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
            if sh_node is None:
                return
            item = sh_node.GetItemByDataNode(node)
            if item:
                sh_node.RemoveItem(item, False, False)

        assert sh is not None
        self._observers = [
            self.scene.AddObserver(slicer.vtkMRMLScene.NodeAddedEvent, added),
            self.scene.AddObserver(slicer.vtkMRMLScene.NodeAboutToBeRemovedEvent, removed),
        ]
        self._callbacks = (added, removed)  # keep the Python callables alive

    def _install_util_shims(self, color_logic) -> None:
        slicer.mrmlScene = self.scene
        slicer.app_logic = self.app_logic
        slicer.modules = types.SimpleNamespace(
            volumes=_Logic(self.logics["Volumes"]),
            segmentations=_Logic(self.logics["Segmentations"]),
            subjecthierarchy=_Logic(self.logics["SubjectHierarchy"]),
            terminologies=_Logic(self.logics["Terminologies"]),
            data=_Logic(self.logics["Data"]),
            colors=_Logic(color_logic),
        )

    def clear(self) -> None:
        """Remove every node a test added; keep singletons (colours, SH node) as Slicer does on close."""
        self.scene.Clear(False)
        self._add_generic_colors()
