"""Which compute devices this machine offers, in words, for the panels' "Device" line.

torch is imported only when asked (a panel is entered), never at module import, and its
absence is an answer ("PyTorch is not installed yet"), not an error.
"""

from __future__ import annotations

import importlib.util


def detect() -> dict:
    """``{"torch": version or None, "cuda": [GPU names], "mps": bool}``."""
    if importlib.util.find_spec("torch") is None:
        return {"torch": None, "cuda": [], "mps": False}
    import torch

    cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return {"torch": torch.__version__, "cuda": cuda, "mps": mps}


def describe(found: dict) -> str:
    """'GPU: NVIDIA H200 (CUDA)', 'CPU only (no GPU found)' or 'PyTorch is not installed yet'."""
    if found["torch"] is None:
        return "PyTorch is not installed yet (it is installed on the first Segment)"
    if found["cuda"]:
        return "GPU: " + ", ".join(found["cuda"]) + " (CUDA)"
    if found["mps"]:
        return "GPU: Apple (MPS)"
    return "CPU only (no GPU found)"


def installation_report(selftest_result: dict) -> list[str]:
    """Lines for the log box from the worker's ``selftest`` job: what the worker really runs with.

    The worker may see other packages than the panel assumes (another Python, a half-finished
    install), so the check asks it rather than this process.
    """
    lines = [f"Python {selftest_result.get('python', '?')}: {selftest_result.get('executable', '?')}"]
    packages = selftest_result.get("packages", {})
    missing = sorted(name for name, version in packages.items() if str(version).startswith("unavailable"))
    lines.append("Packages: " + ", ".join(f"{name} {version}" for name, version in sorted(packages.items())
                                          if name not in missing))
    if missing:
        lines.append("Not installed yet: " + ", ".join(missing))
    lines.append("Devices: " + ", ".join(selftest_result.get("devices", ["cpu"])))
    return lines
