"""Start a worker, read its events on a thread, and cancel it by ending its whole process tree.

Qt-free, so the module Logic and the tests use the same code. A GUI polls ``poll()`` from a
timer (no event-loop busy waiting, no Qt objects touched from the reader thread). The
worker runs in its own session (POSIX) or process group (Windows): cancelling signals the
group, which reaches the children the job started (data loaders, external tools) as well
— a plain ``kill`` of the worker would leave them running.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from weakseg.io.atomic import write_text_atomic
from weakseg.worker.protocol import parse_event

ENGINE_ROOT = Path(__file__).resolve().parents[2]
"""The folder that holds the ``weakseg`` package; put on the worker's PYTHONPATH."""


@dataclass
class WorkerOutcome:
    """How a run ended. ``error`` is the worker's one-line error event, if any."""

    returncode: int | None
    result: dict | None = None
    error: dict | None = None
    cancelled: bool = False
    events: list[dict] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.result is not None and not self.cancelled

    @property
    def message(self) -> str:
        """One line for the panel."""
        if self.cancelled:
            return "Cancelled."
        if self.error:
            return str(self.error.get("message", "failed"))
        if self.returncode not in (0, None):
            last = self.stderr_tail[-1] if self.stderr_tail else ""
            return f"worker ended with exit code {self.returncode}" + (f": {last}" if last else "")
        return "finished"


class WorkerClient:
    """One worker run. ``start()``, then ``poll()``/``wait()``; ``cancel()`` at any time."""

    def __init__(self, kind: str, parameters: dict[str, Any], *, python: str | None = None,
                 env: dict[str, str] | None = None, work_dir: str | Path | None = None,
                 on_event: Callable[[dict], None] | None = None, stderr_lines: int = 200,
                 base_env: dict[str, str] | None = None):
        self.kind = kind
        self.parameters = parameters
        self.python = python or sys.executable
        self.extra_env = dict(env or {})
        self.base_env = dict(base_env) if base_env is not None else None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="weakseg-job-"))
        self.on_event = on_event
        self.job_path = self.work_dir / "job.json"
        self.process: subprocess.Popen | None = None
        self.events: list[dict] = []
        self.result: dict | None = None
        self.error: dict | None = None
        self.cancelled = False
        self._queue: queue.Queue[dict] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=stderr_lines)
        self._threads: list[threading.Thread] = []
        self.started_at: float | None = None

    # ------------------------------------------------------------------ running

    def command(self) -> list[str]:
        return [self.python, "-m", "weakseg.worker", str(self.job_path)]

    def environment(self) -> dict[str, str]:
        """``base_env`` (default: this process's environment) + the engine on PYTHONPATH + ``env``."""
        env = dict(self.base_env if self.base_env is not None else os.environ)
        path = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = str(ENGINE_ROOT) + (os.pathsep + path if path else "")
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        return env

    def start(self) -> "WorkerClient":
        write_text_atomic(self.job_path, json.dumps({"kind": self.kind, "parameters": self.parameters}, indent=2))
        options: dict[str, Any] = {}
        if os.name == "nt":
            options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
        else:
            options["start_new_session"] = True  # own session and process group: killpg reaches every child
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, cwd=str(self.work_dir), env=self.environment(),
                                        text=True, encoding="utf-8", errors="replace", bufsize=1, **options)
        for target, stream in ((self._read_events, self.process.stdout), (self._read_stderr, self.process.stderr)):
            thread = threading.Thread(target=target, args=(stream,), daemon=True, name=f"weakseg-{self.kind}-reader")
            thread.start()
            self._threads.append(thread)
        return self

    def _read_events(self, stream) -> None:
        for line in stream:
            event = parse_event(line)
            if event is None:
                self._stderr.append(line.rstrip())
                continue
            if event["event"] == "result":
                self.result = event.get("result")
            elif event["event"] == "error":
                self.error = event
            self.events.append(event)
            self._queue.put(event)
            if self.on_event is not None:
                self.on_event(event)

    def _read_stderr(self, stream) -> None:
        for line in stream:
            self._stderr.append(line.rstrip())

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def poll(self) -> list[dict]:
        """Events that arrived since the last call (non-blocking; for a GUI timer)."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def wait(self, timeout: float | None = None) -> WorkerOutcome:
        """Block until the worker ends (``TimeoutError`` after ``timeout`` s) and all its output is read."""
        if self.process is None:
            raise RuntimeError("worker not started")
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.kind} worker still running after {timeout} s") from None
        for thread in self._threads:
            thread.join(2.0)
        return self.outcome()

    def outcome(self) -> WorkerOutcome:
        code = self.process.poll() if self.process else None
        return WorkerOutcome(code, self.result, self.error, self.cancelled, list(self.events), list(self._stderr))

    # ------------------------------------------------------------------ cancelling

    def cancel(self, grace: float = 0.5, timeout: float = 2.0) -> WorkerOutcome:
        """End the worker and every process it started; returns within ``timeout`` s.

        SIGTERM to the process group first (lets Python run no cleanup that could write a
        half file: outputs are atomic anyway), SIGKILL to the group after ``grace`` seconds,
        and to any descendant that left the group, when psutil is there to find it.
        """
        if self.process is None:
            return self.outcome()
        self.cancelled = True
        deadline = time.monotonic() + timeout
        descendants = _descendants(self.process.pid)
        if os.name == "nt":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.process.pid)], capture_output=True)
        else:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(self.process.pid, signal.SIGKILL)
            for proc in descendants:
                _kill_quietly(proc)
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
        for thread in self._threads:
            thread.join(max(0.05, deadline - time.monotonic()))
        return self.outcome()

    # ------------------------------------------------------------------ diagnostics

    def diagnostics(self) -> str:
        """Text for "copy diagnostics": command, job, last events and stderr lines."""
        lines = [f"command: {' '.join(self.command())}", f"job: {self.job_path}",
                 f"job kind: {self.kind}", f"parameters: {json.dumps(self.parameters, sort_keys=True)}",
                 f"exit code: {self.process.poll() if self.process else 'not started'}"]
        if self.error:
            lines.append(f"error: {self.error.get('message')}")
        lines.append("last events:")
        lines += [f"  {json.dumps(e)}" for e in self.events[-10:]]
        lines.append("stderr (last lines):")
        lines += [f"  {line}" for line in list(self._stderr)[-40:]]
        return "\n".join(lines)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the worker leads its own session, so its pid is the group id
    except (ProcessLookupError, PermissionError):
        pass


def _descendants(pid: int) -> list:
    try:
        import psutil
    except ImportError:
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _kill_quietly(proc) -> None:
    try:
        proc.kill()
    except Exception:
        pass
