"""Just enough of PythonQt and Slicer's application Python for a WeakSegQt class to run on PyQt5 widgets.

PythonQt differs from PyQt in two ways the panels use: a Qt property reads and writes as an
attribute (``button.enabled = False``, ``combo.currentData``), and signals connect by
signature string (``button.connect("clicked(bool)", slot)``). ``pythonqt_layer`` provides both
(properties only for the names given, after the .ui is loaded, so uic itself is unaffected),
a ``qt`` module of PyQt5's classes, and a ``slicer.util`` / ``slicer.i18n`` that record what
would be shown to the user. Everything is undone by ``monkeypatch``.
"""

from __future__ import annotations

import contextlib
import sys
import types

from PyQt5 import QtCore, QtGui, QtWidgets

PROPERTIES = {
    QtWidgets.QWidget: ("enabled", "toolTip"),
    QtWidgets.QComboBox: ("currentIndex", "currentText", "currentData", "count"),
    QtWidgets.QLabel: ("text",),
    QtWidgets.QAbstractButton: ("checked",),
}


def _connect(self, signature, slot):
    getattr(self, signature.split("(")[0]).connect(slot)


def _property(name):
    return property(lambda self: self.property(name), lambda self, value: self.setProperty(name, value))


def pythonqt_layer(monkeypatch, answers=True) -> dict:
    """Install the layer; returns the record of messages (``errors``, ``status``, ``questions``)."""
    import slicer

    shown = {"errors": [], "status": [], "questions": []}
    qt = types.ModuleType("qt")
    for module in (QtCore, QtGui, QtWidgets):
        qt.__dict__.update({name: getattr(module, name) for name in dir(module) if name.startswith("Q")})
    qt.Qt = QtCore.Qt
    util = types.ModuleType("slicer.util")
    util.errorDisplay = lambda text, **kwargs: shown["errors"].append(text)
    util.showStatusMessage = lambda text, *args: shown["status"].append(text)

    def confirm(text, **kwargs):
        shown["questions"].append(text)
        return answers

    @contextlib.contextmanager
    def try_with_error_display(message=None, show=True, waitCursor=False):
        try:
            yield
        except Exception as exc:  # as Slicer's: shown, not raised
            shown["errors"].append(f"{message} {exc}")

    util.confirmOkCancelDisplay = confirm
    util.tryWithErrorDisplay = try_with_error_display
    util.mainWindow = lambda: None
    i18n = types.ModuleType("slicer.i18n")
    i18n.tr = lambda text: text
    i18n.translate = lambda context, text: text
    monkeypatch.setattr(QtCore.QObject, "connect", _connect, raising=False)
    for name, module in (("qt", qt), ("slicer.util", util), ("slicer.i18n", i18n)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(slicer, "util", util, raising=False)
    monkeypatch.setattr(slicer, "i18n", i18n, raising=False)
    return shown


def property_access(monkeypatch) -> None:
    """PythonQt's attribute access to Qt properties (call after loading the .ui)."""
    for cls, names in PROPERTIES.items():
        for name in names:
            monkeypatch.setattr(cls, name, _property(name), raising=False)


def fresh_import(monkeypatch, root, name: str):
    """Import ``name`` (a WeakSegQt module) anew against the layer, and forget it afterwards."""
    import importlib

    monkeypatch.syspath_prepend(str(root))
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        monkeypatch.delitem(sys.modules, loaded)
    module = importlib.import_module(name)
    monkeypatch.setitem(sys.modules, name, module)  # removed again when the test ends
    return module


class _Observations:
    """``slicer.util.VTKObservationMixin``: the same calls, on real VTK objects."""

    def __init__(self):
        self._tags = []

    def addObserver(self, obj, event, method):
        self._tags.append((obj, event, method, obj.AddObserver(event, method)))

    def removeObserver(self, obj, event, method):
        for entry in [e for e in self._tags if e[:3] == (obj, event, method)]:
            obj.RemoveObserver(entry[3])
            self._tags.remove(entry)

    def removeObservers(self):
        for obj, _event, _method, tag in self._tags:
            obj.RemoveObserver(tag)
        self._tags = []


class _ModuleWidget:
    """``ScriptedLoadableModuleWidget`` without the application: a plain QWidget as the module panel."""

    def __init__(self, parent=None):
        self.parent = parent or types.SimpleNamespace(isEntered=True)
        self.moduleName = type(self).__name__[: -len("Widget")]

    def setup(self):
        import render_panels

        render_panels.application()
        self.panel = QtWidgets.QWidget()
        self.layout = QtWidgets.QVBoxLayout(self.panel)

    def resourcePath(self, relative):
        import os

        return os.path.join(os.path.dirname(sys.modules[type(self).__module__].__file__), "Resources", relative)


def _parameter_node_wrapper(cls):
    """``@parameterNodeWrapper`` as a namespace of the declared fields and defaults; GUI binding is not emulated
    (the panels' bound widgets are checked against the fields by ``test_slicer_modules``)."""
    names = list(cls.__dict__.get("__annotations__", {}))

    class Wrapped(types.SimpleNamespace):
        def __init__(self, node=None):
            import vtk

            object.__setattr__(self, "_events", vtk.vtkObject())  # the wrapped node's ModifiedEvent
            super().__init__(**{name: getattr(cls, name, None) for name in names})

        def __setattr__(self, name, value):
            object.__setattr__(self, name, value)
            self._events.Modified()  # as setting a parameter modifies the parameter node

        def AddObserver(self, event, callback):
            return self._events.AddObserver(event, callback)

        def RemoveObserver(self, tag):
            self._events.RemoveObserver(tag)

        def connectGui(self, ui):
            return object()

        def disconnectGui(self, tag):
            pass

    Wrapped.__name__ = cls.__name__
    return Wrapped


def module_widget_layer(monkeypatch) -> None:
    """What a module's widget file imports besides Qt: ``slicer.ScriptedLoadableModule``,
    ``slicer.parameterNodeWrapper`` (its decorator as a no-op: a test gives the widget a plain namespace as
    parameter node) and ``VTKObservationMixin``. Call after ``pythonqt_layer``."""
    import slicer

    slicer.util.VTKObservationMixin = _Observations
    import unittest

    module = types.ModuleType("slicer.ScriptedLoadableModule")
    module.ScriptedLoadableModuleWidget = _ModuleWidget
    module.ScriptedLoadableModule = _ModuleWidget
    module.ScriptedLoadableModuleTest = unittest.TestCase
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = _parameter_node_wrapper
    wrapper.WithinRange = lambda low, high: (low, high)
    wrapper.Choice = lambda choices: tuple(choices)
    slicer.util.setSliceViewerLayers = lambda **kwargs: None
    slicer.util.childWidgetVariables = lambda widget: widget  # uic already sets each child as an attribute

    def load_ui(path):
        import render_panels

        return render_panels.load(path)

    slicer.util.loadUI = load_ui
    for name, stub in (("slicer.ScriptedLoadableModule", module), ("slicer.parameterNodeWrapper", wrapper)):
        monkeypatch.setitem(sys.modules, name, stub)
        monkeypatch.setattr(slicer, name.split(".")[1], stub, raising=False)
