"""What can be checked of the Slicer-side files without Slicer (developer notes §6b).

Each .ui parses, uses only Qt/CTK/MRML widget classes, and holds every ``self.ui.<name>`` the
module code uses; every ``SlicerParameterName`` is a field of the module's parameterNodeWrapper
class; module files parse as Python, avoid modules Python 3.12 removed and ``qt.Signal``; the
Logic and adapter layers import no Qt; module titles are translatable.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("WeakSegTumor", "WeakSegOAR", "WeakSegTrain")
EFFECT_MODULE = "SegmentEditorWeakSegSliceLabels"
QT_WIDGETS = {"QWidget", "QLabel", "QPushButton", "QComboBox", "QCheckBox", "QSpinBox", "QDoubleSpinBox", "QLineEdit",
              "QProgressBar", "QListWidget", "QTableWidget", "QGroupBox", "QTextEdit", "QPlainTextEdit", "QToolButton",
              "QSlider"}
SLICER_WIDGETS = {"qMRMLWidget", "qMRMLNodeComboBox", "qMRMLSegmentEditorWidget", "qMRMLSubjectHierarchyComboBox",
                  "qMRMLSegmentationShow3DButton", "ctkCollapsibleButton", "ctkPathLineEdit", "ctkSliderWidget",
                  "ctkDirectoryButton"}
REMOVED_IN_312 = {"imp", "distutils", "asynchat", "asyncore", "smtpd"}
SHARED = ["WeakSegQt/runs.py", "WeakSegQt/models.py"]
PANEL_CODE = {  # module → files holding its widget code and the file declaring its parameter node
    "WeakSegTumor": (["WeakSegQt/segment_panel.py", *SHARED], "WeakSegQt/segment_panel.py"),
    "WeakSegOAR": (["WeakSegQt/segment_panel.py", *SHARED], "WeakSegQt/segment_panel.py"),
    "WeakSegTrain": (["WeakSegTrain/WeakSegTrain.py", "WeakSegQt/runs.py"], "WeakSegTrain/WeakSegTrain.py"),
}
UI_FILES = {"WeakSegTumor": "WeakSegQt/Resources/UI/SegmentPanel.ui", "WeakSegOAR": "WeakSegQt/Resources/UI/SegmentPanel.ui",
            "WeakSegTrain": "WeakSegTrain/Resources/UI/WeakSegTrain.ui"}


def _ui(module: str) -> ET.Element:
    return ET.parse(ROOT / UI_FILES[module]).getroot()


def _parameter_fields(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(getattr(d, "id", "") == "parameterNodeWrapper" for d in node.decorator_list):
            return {item.target.id for item in node.body if isinstance(item, ast.AnnAssign)}
    raise AssertionError(f"no @parameterNodeWrapper class in {path}")


@pytest.mark.parametrize("module", MODULES)
def test_ui_widgets_exist_and_are_known_classes(module):
    root = _ui(module)
    widgets = {w.get("name"): w.get("class") for w in root.iter("widget")}
    unknown = {c for c in widgets.values() if c not in QT_WIDGETS | SLICER_WIDGETS}
    assert not unknown, f"unknown widget classes in {module}.ui: {unknown}"
    assert root.find("widget").get("class") == "qMRMLWidget"
    files, _ = PANEL_CODE[module]
    used = set()
    for file in files:
        used |= set(re.findall(r"self\.ui\.(\w+)", (ROOT / file).read_text()))
    missing = used - set(widgets)
    assert not missing, f"{module}: code uses self.ui.{sorted(missing)} missing from the .ui"
    declared_custom = {c.findtext("class") for c in root.iter("customwidget")}
    assert {c for c in widgets.values() if c in SLICER_WIDGETS} <= declared_custom


@pytest.mark.parametrize("module", MODULES)
def test_parameter_bindings_point_at_declared_parameters(module):
    fields = _parameter_fields(ROOT / PANEL_CODE[module][1])
    bound = {p.findtext("string") for p in _ui(module).iter("property") if p.get("name") == "SlicerParameterName"}
    assert bound and bound <= fields, f"{module}: bound {sorted(bound - fields)} are not parameters"


@pytest.mark.parametrize("module", MODULES)
def test_scene_aware_widgets_get_the_scene(module):
    root = _ui(module)
    mrml = {w.get("name") for w in root.iter("widget") if w.get("class") in ("qMRMLNodeComboBox", "qMRMLSegmentEditorWidget")}
    assert mrml
    connected = {c.findtext("receiver") for c in root.iter("connection") if c.findtext("slot") == "setMRMLScene(vtkMRMLScene*)"}
    assert mrml <= connected


def _python_files():
    for module in (*MODULES, EFFECT_MODULE, "WeakSegQt", "weakseg_mrml"):
        yield from sorted((ROOT / module).rglob("*.py"))


@pytest.mark.parametrize("path", list(_python_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_files_parse_and_avoid_removed_or_crashing_apis(path):
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))
    compile(tree, str(path), "exec")
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & REMOVED_IN_312
    assert "qt.Signal" not in source  # custom PythonQt signals crash Slicer


@pytest.mark.parametrize("path", sorted(ROOT.glob("WeakSeg*/WeakSeg*Lib/logic.py")) + sorted((ROOT / "weakseg_mrml").glob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_logic_and_adapters_import_no_qt(path):
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {n for n in names if n.split(".")[0] in ("qt", "ctk", "PythonQt")}
    assert "slicer.util" not in names and "slicer.i18n" not in names


@pytest.mark.parametrize("module", MODULES)
def test_module_metadata_is_translatable_and_in_the_segmentation_category(module):
    source = (ROOT / module / f"{module}.py").read_text()
    assert re.search(r'self\.parent\.title = _\("', source)
    assert 'translate("qSlicerAbstractCoreModule", "Segmentation")' in source  # as TotalSegmentator, MONAIAuto3DSeg
    assert "getDefaultModuleDocumentationLink" not in source  # that page does not exist for an extension
    assert f"class {module}Test(ScriptedLoadableModuleTest)" in source
    assert f"class {module}Widget(" in source
    assert (ROOT / module / f"{module}Lib" / "__init__.py").is_file()  # a package Slicer can import
    assert (ROOT / module / "Resources" / "Icons" / f"{module}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cmake = (ROOT / module / "CMakeLists.txt").read_text()
    assert "WITH_GENERIC_TESTS" in cmake and "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in cmake


def test_cmake_ships_every_shared_file_and_the_screenshots_exist():
    """What the extension build needs: the shared packages and the effect module, and the screenshots it names."""
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "WeakSegQt/*.py" in cmake and "WeakSegQt/Resources/*" in cmake
    assert f"add_subdirectory({EFFECT_MODULE})" in cmake
    assert 'set(EXTENSION_CATEGORY "Segmentation")' in cmake
    urls = re.search(r'EXTENSION_SCREENSHOTURLS "([^"]+)"', cmake).group(1).split()
    prefix = "https://raw.githubusercontent.com/WeakSeg/SlicerWeakSeg/main/"
    for url in urls:
        assert url.startswith(prefix)
        assert (ROOT / url[len(prefix):]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", url
    effect_cmake = (ROOT / EFFECT_MODULE / "CMakeLists.txt").read_text()
    assert f"set(MODULE_NAME {EFFECT_MODULE})" in effect_cmake
    for name in ("${MODULE_NAME}.py", "${MODULE_NAME}Lib/SegmentEditorEffect.py", "${MODULE_NAME}Lib/SegmentEditorEffect.png"):
        assert name in effect_cmake
