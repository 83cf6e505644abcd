"""PyQt5 stand-ins for Slicer's CTK and qMRML widgets, so the modules' .ui files load in real Qt.

Each stand-in derives from the Qt class the real widget extends, takes every property the
.ui sets (the values are kept, so a test can read them) and draws enough to make a rendered
panel readable: node selectors show what they select, the embedded Segment Editor shows a
frame naming its effects. The Qt widgets themselves (buttons, combos, layouts) are real.
"""

from __future__ import annotations

import sys
import types

from PyQt5 import QtCore, QtWidgets


class _Properties:
    """Accepts ``setX(value)`` for any property X the .ui sets, as the real widget's Q_PROPERTY would."""

    def __getattr__(self, name):
        if name.startswith("set") and len(name) > 3:
            key = name[3].lower() + name[4:]

            def setter(value, _key=key):
                self.__dict__.setdefault("properties", {})[_key] = value
                self._property_set(_key, value)
            return setter
        raise AttributeError(name)

    def _property_set(self, key, value):
        pass

    def setMRMLScene(self, scene):
        self.__dict__["scene"] = scene


class _SceneSignal:
    """``mrmlSceneChanged(vtkMRMLScene*)``: PyQt cannot declare a signal of a VTK type, so connections are kept here."""

    def __init__(self):
        self.slots = []

    def __getitem__(self, signature):
        return self

    def connect(self, slot):
        self.slots.append(slot)

    def emit(self, scene):
        for slot in self.slots:
            slot(scene)


class qMRMLWidget(_Properties, QtWidgets.QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.mrmlSceneChanged = _SceneSignal()


class ctkCollapsibleButton(_Properties, QtWidgets.QGroupBox):
    def _property_set(self, key, value):
        if key == "text":
            self.setTitle("▾ " + value)


class ctkPathLineEdit(_Properties, QtWidgets.QLineEdit):
    Dirs, Files, Drives, NoDot, NoDotDot, Readable, Writable, Executable = 1, 2, 4, 8, 16, 32, 64, 128
    currentPathChanged = QtCore.pyqtSignal(str)

    @property
    def currentPath(self):  # a Qt property read as an attribute, as PythonQt does
        return self.text()

    @currentPath.setter
    def currentPath(self, path):
        if path != self.text():
            self.setText(path)
            self.currentPathChanged.emit(path)

    def _property_set(self, key, value):
        if key == "toolTip":
            self.setToolTip(value)


class qMRMLNodeComboBox(_Properties, QtWidgets.QComboBox):
    currentNodeChanged = QtCore.pyqtSignal(object)

    def _property_set(self, key, value):
        if key == "noneDisplay":
            self.clear()
            self.addItem(value)
        elif key == "nodeTypes" and not self.property("count"):  # not count(): tests may make it a property
            self.addItem({"vtkMRMLScalarVolumeNode": "Select a volume",
                          "vtkMRMLSegmentationNode": "Select a segmentation"}.get(value[0], value[0]))
        elif key == "toolTip":
            self.setToolTip(value)


class ctkMenuButton(_Properties, QtWidgets.QPushButton):
    pass


class qMRMLSegmentationShow3DButton(ctkMenuButton):
    def __init__(self, parent=None):
        super().__init__("Show 3D", parent)


class qMRMLSegmentEditorWidget(_Properties, QtWidgets.QFrame):
    """Records the editor calls a panel makes (which effect is active, whether views are observed)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.calls = []
        self.observing = False
        self.editor_node = None
        self.setFrameShape(QtWidgets.QFrame.StyledPanel)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel("Segment Editor: Paint · Draw · Erase · Slice labels"))
        self.setMinimumHeight(60)

    def setMRMLSegmentEditorNode(self, node):
        self.editor_node = node

    def mrmlSegmentEditorNode(self):
        return self.editor_node

    def setSegmentationNode(self, node):
        self.calls.append(("setSegmentationNode", node))

    def setCurrentSegmentID(self, segment_id):
        self.calls.append(("setCurrentSegmentID", segment_id))

    def setActiveEffect(self, effect):
        self.calls.append(("setActiveEffect", effect))

    def setActiveEffectByName(self, name):
        self.calls.append(("setActiveEffectByName", name))

    def activeEffect(self):
        return None

    def setupViewObservations(self):
        self.observing = True

    def removeViewObservations(self):
        self.observing = False

    def installKeyboardShortcuts(self):
        self.calls.append(("installKeyboardShortcuts",))

    def uninstallKeyboardShortcuts(self):
        self.calls.append(("uninstallKeyboardShortcuts",))


STAND_INS = {cls.__name__: cls for cls in (qMRMLWidget, ctkCollapsibleButton, ctkPathLineEdit, qMRMLNodeComboBox,
                                            ctkMenuButton, qMRMLSegmentationShow3DButton, qMRMLSegmentEditorWidget)}


def install() -> None:
    """Make ``uic`` find each stand-in under its header's module name (``ctkPathLineEdit.h`` → ``ctkPathLineEdit``)."""
    for name, cls in STAND_INS.items():
        module = types.ModuleType(name)
        setattr(module, name, cls)
        sys.modules[name] = module
