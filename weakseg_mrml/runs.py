"""A background job as the panels see it: progress, ETA, curves, cancel, and diagnostics.

Wraps ``weakseg.worker.client.WorkerClient``. The panel's timer calls ``poll()``; when the
run has ended, ``finish()`` turns the worker's result into scene nodes (done by the Logic
that started it). Nothing here touches Qt, so every state change is tested headless.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Callable

from weakseg.worker.client import WorkerClient, WorkerOutcome


def python_executable() -> str:
    """The interpreter for the worker: ``$WEAKSEG_PYTHON``, Slicer's ``PythonSlicer``, or this one."""
    override = os.environ.get("WEAKSEG_PYTHON")
    if override:
        return override
    if "slicer" in sys.modules and hasattr(sys.modules["slicer"], "app"):  # inside the Slicer application
        found = shutil.which("PythonSlicer")
        if found:
            return found
    return sys.executable


def base_environment() -> dict[str, str] | None:
    """Inside Slicer, the environment Slicer started with (its launcher sets paths for the app, which
    ``PythonSlicer`` sets again for itself); elsewhere None (this process's environment)."""
    slicer = sys.modules.get("slicer")
    if slicer is not None and hasattr(slicer, "app") and hasattr(getattr(slicer, "util", None), "startupEnvironment"):
        return dict(slicer.util.startupEnvironment())
    return None


def weakseg_environment() -> dict[str, str]:
    """WeakSeg's own settings in this process's environment (``WEAKSEG_MODELS``, ...), for the worker.

    Inside Slicer the worker starts from Slicer's *startup* environment, so a models folder
    set later in the session (a self-test's private one, say) would otherwise not reach it.
    """
    return {key: value for key, value in os.environ.items() if key.startswith("WEAKSEG_")}


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


@dataclass
class Run:
    """One background job; ``finisher(result) -> value`` builds the scene objects when it succeeds."""

    client: WorkerClient
    finisher: Callable[[dict], object] | None = None
    stage: str = "starting"
    fraction: float | None = None
    eta_s: float | None = None
    message: str = ""
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    checkpoint: int | None = None
    """Last iteration a training run saved a checkpoint at (it can be resumed from there)."""
    value: object = None
    scratch: list = field(default_factory=list)
    """Temporary inputs removed once the run has ended (its outputs are kept)."""
    _outcome: WorkerOutcome | None = None

    @classmethod
    def start(cls, kind: str, parameters: dict, finisher=None, *, env: dict | None = None, work_dir=None,
              scratch=()) -> "Run":
        client = WorkerClient(kind, parameters, python=python_executable(), env={**weakseg_environment(), **(env or {})},
                              work_dir=work_dir, base_env=base_environment())
        return cls(client.start(), finisher, scratch=list(scratch))

    # ------------------------------------------------------------------ progress

    def poll(self) -> list[dict]:
        """Apply new events to the progress state; returns them."""
        events = self.client.poll()
        for event in events:
            self._apply(event)
        return events

    def _apply(self, event: dict) -> None:
        kind = event["event"]
        if kind == "progress":
            self.stage = event.get("stage", self.stage)
            self.fraction = event.get("fraction")
            self.eta_s = event.get("eta_s")
            self.message = event.get("message") or self.message
            step = event.get("done")
            if event.get("message") == "checkpoint" and step is not None:
                self.checkpoint = int(step)
            for name, value in (event.get("metrics") or {}).items():
                if step is not None and isinstance(value, (int, float)) and name not in ("seconds_per_iteration",
                                                                                          "eta_seconds", "child_pid"):
                    curve = self.curves.setdefault(f"{self.stage}/{name}", [])
                    if not curve or curve[-1][0] != step:
                        curve.append((int(step), float(value)))
        elif kind == "log":
            self.warnings.append(str(event.get("message", "")))
        elif kind == "error":
            self.message = str(event.get("message", ""))

    @property
    def status_text(self) -> str:
        """'predict 40 % — about 12 s left'."""
        text = self.stage
        if self.fraction is not None:
            text += f" {100 * self.fraction:.0f} %"
        eta = format_eta(self.eta_s)
        return text + (f" — about {eta} left" if eta and self.fraction not in (None, 1.0) else "")

    @property
    def running(self) -> bool:
        return self.client.running

    # ------------------------------------------------------------------ ending

    def cancel(self) -> WorkerOutcome:
        self._outcome = self.client.cancel()
        self.poll()
        self._remove_scratch()
        return self._outcome

    def _remove_scratch(self) -> None:
        for path in self.scratch:
            shutil.rmtree(path, ignore_errors=True)
        self.scratch = []

    def wait(self, timeout: float | None = None) -> WorkerOutcome:
        self._outcome = self.client.wait(timeout)
        self.poll()
        return self._outcome

    def finish(self):
        """After the worker ended: build the result (raises ``WeakSegError`` with the worker's message on failure)."""
        from weakseg.errors import WeakSegError

        outcome = self._outcome or self.wait()
        try:
            if not outcome.ok:
                raise WeakSegError(outcome.message)
            if self.value is None and self.finisher is not None:
                self.value = self.finisher(outcome.result)
        finally:
            self._remove_scratch()
        return self.value if self.finisher is not None else outcome.result

    def diagnostics(self, extra: dict | None = None) -> str:
        """Text for the "copy diagnostics" button: versions, job, last events and error output."""
        import platform

        import weakseg

        lines = [f"WeakSeg {weakseg.__version__}, Python {sys.version.split()[0]}, {platform.platform()}"]
        lines += [f"{key}: {value}" for key, value in (extra or {}).items()]
        lines.append(self.client.diagnostics())
        return "\n".join(lines)
