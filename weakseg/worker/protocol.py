"""The worker's stdout protocol: JSON lines, one event each, flushed as they happen.

Events (``"event"`` key):

- ``start``: job kind, pid, versions;
- ``progress``: ``stage``, ``fraction`` (0–1 or null), ``done``/``total`` (or null),
  ``elapsed_s``, ``eta_s`` (null until it can be estimated), ``message``, ``metrics``
  (e.g. loss, validation Dice);
- ``log``: ``level`` and ``message`` of a "weakseg" logger record (warnings and up);
- ``result``: ``result``, the job's JSON-serialisable outcome (paths, labels, provenance);
- ``error``: one-line ``message``, ``type`` (``bad-input``, ``cancelled`` or ``internal``) and
  ``path`` when a file is at fault. The worker then exits non-zero.

Anything else a library prints goes to stderr (stdout is re-pointed there), so a stray
``print`` can never corrupt the stream.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import threading
import time
from typing import IO, Any

PROTOCOL_VERSION = 1


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, numpy scalars become Python numbers, paths strings."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class EventStream:
    """Writes events to the protocol stream; safe to call from several threads."""

    def __init__(self, stream: IO[str]):
        self._stream = stream
        self._lock = threading.Lock()
        self._stage: str | None = None
        self._stage_started = time.monotonic()
        self._started = time.monotonic()

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **_clean(fields)}, allow_nan=False)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def progress(self, stage: str, *, fraction: float | None = None, done: int | None = None, total: int | None = None,
                 message: str = "", metrics: dict | None = None, eta_s: float | None = None) -> None:
        """A progress event with the ETA of the current stage (given, or linear in its fraction done)."""
        now = time.monotonic()
        if stage != self._stage:
            self._stage, self._stage_started = stage, now
        if fraction is None and done is not None and total:
            fraction = done / total
        elapsed = now - self._stage_started
        eta = eta_s
        if eta is None and fraction and 0.0 < fraction <= 1.0 and (elapsed > 0.0 or fraction == 1.0):
            eta = elapsed * (1.0 - fraction) / fraction
        self.emit("progress", stage=stage, fraction=fraction, done=done, total=total, elapsed_s=round(now - self._started, 3),
                  eta_s=None if eta is None else round(eta, 1), message=message, metrics=metrics or {})

    def engine_progress(self, event: dict) -> None:
        """Adapter for the engine's progress dicts (``stage``, ``fraction``, ``done``, ``total``, extras as metrics)."""
        extras = {k: v for k, v in event.items() if k not in ("stage", "fraction", "done", "total", "kind", "time", "message")}
        self.progress(str(event.get("stage", event.get("kind", "work"))), fraction=event.get("fraction"),
                      done=event.get("done"), total=event.get("total"), message=str(event.get("message", "")),
                      metrics=extras)


class EventLogHandler(logging.Handler):
    """Forwards "weakseg" warnings to the panel as ``log`` events."""

    def __init__(self, events: EventStream, level: int = logging.WARNING):
        super().__init__(level)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.events.emit("log", level=record.levelname.lower(), message=record.getMessage())
        except Exception:  # logging must never break the job
            self.handleError(record)


def claim_stdout() -> IO[str]:
    """Keep the real stdout for events and point fd 1 (and ``sys.stdout``) at stderr."""
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "w", buffering=1, encoding="utf-8")


def parse_event(line: str) -> dict | None:
    """One protocol line → event dict; None for a line that is not an event (never raises)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("event"), str) else None
