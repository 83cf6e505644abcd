"""Progress of a run as JSON lines (one event per line) plus an optional tqdm bar.

The JSON-lines file is what the Slicer worker tails and what ``curves.py`` plots; an
event is a flat dict with at least ``event`` and ``time``. Training events carry
``iteration``, the losses, ``lr``, ``seconds_per_iteration`` and ``eta_seconds``;
validation events the metrics.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

Progress = Callable[[dict], None]


def read_events(path: str | Path) -> list[dict]:
    """Every well-formed event in a JSON-lines file (a torn last line after a kill is skipped)."""
    events = []
    path = Path(path)
    if not path.is_file():
        return events
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


class EventLog:
    """Append events to ``path`` (flushed per line), forward them to ``progress``, drive a tqdm bar."""

    def __init__(self, path: str | Path | None, progress: Progress | None = None, *, total: int = 0,
                 start: int = 0, bar: bool = False, enabled: bool = True):
        self.path = Path(path) if path else None
        self.progress = progress
        self.enabled = enabled
        self._handle = None
        if enabled and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")
        self._bar = None
        if enabled and bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=start, unit="it", dynamic_ncols=True, leave=True)

    def emit(self, event: str, **fields) -> dict:
        record = {"event": event, "time": round(time.time(), 3), **fields}
        if not self.enabled:
            return record
        if self._handle is not None:
            self._handle.write(json.dumps(record) + "\n")
            self._handle.flush()
        if self.progress is not None:
            self.progress(record)
        if self._bar is not None and event == "iteration":
            self._bar.n = int(fields.get("iteration", 0)) + 1
            self._bar.set_postfix({k: f"{v:.3g}" for k, v in fields.items() if k.startswith("loss") and isinstance(v, float)},
                                  refresh=False)
            self._bar.refresh()
        return record

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Eta:
    """Seconds per iteration (exponential average) and the time left."""

    def __init__(self, smoothing: float = 0.1):
        self.smoothing = smoothing
        self.rate: float | None = None
        self._last = time.perf_counter()

    def tick(self, iterations_done: int = 1) -> float:
        now = time.perf_counter()
        per = (now - self._last) / max(iterations_done, 1)
        self._last = now
        self.rate = per if self.rate is None else (1 - self.smoothing) * self.rate + self.smoothing * per
        return self.rate

    def remaining(self, left: int) -> float:
        return (self.rate or 0.0) * max(left, 0)
