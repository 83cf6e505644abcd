"""Run by ``test_module_paths.py`` in a fresh interpreter: load the modules as Slicer's factory does.

Slicer puts only the folder of each module file on ``sys.path`` (``ctkFactoryScriptedItem::load``)
and executes the file. Here the checkout root is taken off ``sys.path`` and the editable-install
finder is removed, so ``weakseg`` is importable only if a module makes it so. Slicer's
application packages (``qt``, ``slicer.ScriptedLoadableModule``, ...) are stand-ins: this is a test
of where files are found, not of Qt. Prints one JSON line.
"""

import importlib.util
import json
import sys
import types
import unittest

checkout, *module_files = sys.argv[1:]
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if not getattr(h, "__module__", "").startswith("__editable__")]
sys.path[:] = [p for p in sys.path if p not in ("", ".", checkout)]
sys.path_importer_cache.clear()
before = {name: importlib.util.find_spec(name) is not None for name in ("weakseg", "weakseg_mrml", "WeakSegQt")}


class _Anything:
    """Stands for any Qt/Slicer application class or object."""

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        return _Anything()

    def __call__(self, *args, **kwargs):
        return _Anything()


def _stub(name, **attributes):
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    module.__getattr__ = lambda attr: _Anything
    sys.modules[name] = module
    return module


class ScriptedLoadableModule:
    def __init__(self, parent):
        self.parent = parent


class ScriptedLoadableModuleWidget:
    def __init__(self, parent=None):
        self.parent = parent


import slicer  # noqa: E402  the slicer-core wheel: MRML classes are real

connected = []
slicer.app = types.SimpleNamespace(connect=lambda signal, slot: connected.append(signal))
for name, attrs in {
    "slicer.i18n": {"tr": lambda text: text, "translate": lambda context, text: text},
    "slicer.ScriptedLoadableModule": {"ScriptedLoadableModule": ScriptedLoadableModule,
                                      "ScriptedLoadableModuleWidget": ScriptedLoadableModuleWidget,
                                      "ScriptedLoadableModuleLogic": object,
                                      "ScriptedLoadableModuleTest": unittest.TestCase},
    "slicer.parameterNodeWrapper": {"parameterNodeWrapper": lambda cls: cls},
    "slicer.util": {"VTKObservationMixin": object},
}.items():
    setattr(slicer, name.split(".")[1], _stub(name, **attrs))
for name in ("qt", "ctk", "SegmentEditorEffects", "qSlicerSegmentationsEditorEffectsPythonQt"):
    _stub(name)

loaded = {}
for path in module_files:
    folder, file = path.rsplit("/", 1)
    name = file[:-3]
    sys.path.append(folder)  # what the factory does for each module file, and nothing more
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        parent = types.SimpleNamespace()
        getattr(module, name)(parent)
        loaded[name] = {"title": getattr(parent, "title", None), "widget": hasattr(module, name + "Widget")}
    except Exception as exc:
        import traceback
        loaded[name] = {"error": f"{type(exc).__name__}: {exc}", "where": traceback.format_exc()[-1500:]}
print(json.dumps({"before": before, "loaded": loaded, "connected": connected,
                  "engine": getattr(sys.modules.get("weakseg"), "__file__", None)}))
