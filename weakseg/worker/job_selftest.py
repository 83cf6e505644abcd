"""``selftest`` job: proves the worker environment before real work, and backs "copy diagnostics".

It reports the interpreter and package versions the worker really sees (which may differ
from what the panel assumes), then ticks through ``steps`` progress events. With
``child: true`` it starts a child process first, as data loaders and external tools do,
so that cancelling can be checked to end the whole process tree.
"""

from __future__ import annotations

import importlib
import platform
import subprocess
import sys
import time
from dataclasses import dataclass

from weakseg.io.validate import spec
from weakseg.worker.job import parameters_as

PACKAGES = ("numpy", "SimpleITK", "scipy", "skimage", "pydicom", "highdicom", "torch", "safetensors")


@dataclass
class SelftestParameters:
    steps: int = spec(3, minimum=0)
    step_seconds: float = spec(0.0, minimum=0.0, maximum=3600.0)
    child: bool = False
    import_packages: bool = True


def package_versions(names=PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            module = importlib.import_module(name)
            out[name] = str(getattr(module, "__version__", "installed"))
        except Exception as exc:  # report, never fail: this is diagnostics
            out[name] = f"unavailable ({type(exc).__name__})"
    return out


def run(parameters: dict, events, job) -> dict:
    p = parameters_as(SelftestParameters, job)
    child = None
    if p.child:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    versions = package_versions() if p.import_packages else {}
    try:
        for step in range(p.steps):
            time.sleep(p.step_seconds)
            events.progress("selftest", done=step + 1, total=p.steps,
                            metrics={"child_pid": child.pid} if child else {})
    finally:
        if child is not None:
            child.terminate()
            child.wait()
    return {"python": sys.version.split()[0], "executable": sys.executable, "platform": platform.platform(),
            "packages": versions, "devices": _devices(versions)}


def _devices(versions: dict[str, str]) -> list[str]:
    if versions.get("torch", "unavailable").startswith("unavailable"):
        return ["cpu"]
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            devices.append(f"cuda:{i} ({props.name}, {props.total_memory / 2**30:.1f} GiB)")
    return devices
