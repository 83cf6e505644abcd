"""The worker's lifetime: it ends when asked (SIGTERM) or when its parent dies, and takes its children along.

- The worker leads its own process group (``WorkerClient`` starts it in a new session;
  started any other way it makes one), so signalling the group reaches every process
  the job started — data loaders, external tools.
- SIGTERM (and SIGHUP) raise ``Terminated`` in the main thread: the job unwinds (output
  staging folders are discarded, nothing half-written stays), then the worker signals its
  group and exits.
- A watchdog thread notices the parent's death (the worker is re-parented) and
  terminates the worker the same way, so a crashed Slicer leaves no orphan computing on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path


class Terminated(BaseException):
    """SIGTERM/SIGHUP or the parent's death: unwind, then exit (a BaseException so no job code swallows it)."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signal.Signals(signum).name)


def lead_process_group() -> None:
    """Make this process the leader of its own group (no-op when it already is, e.g. a session leader)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        if os.getpgrp() != os.getpid():
            os.setpgid(0, 0)


def install(poll_s: float = 0.5) -> None:
    """Install the signal handlers and the parent watchdog (call once, from the main thread)."""
    if os.name != "posix":
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGHUP, _raise_terminated)
    parent = os.getppid()
    if parent <= 1:
        return

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, daemon=True, name="weakseg-parent-watchdog").start()


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def descendants(pid: int | None = None) -> list[int]:
    """Every descendant of ``pid`` (default: this process), from /proc; [] where /proc lacks the information."""
    pending, found = [pid or os.getpid()], []
    while pending:
        for child in _children(pending.pop()):
            if child not in found:
                found.append(child)
                pending.append(child)
    return found


def end_children(grace_s: float = 1.0) -> None:
    """SIGTERM every other process of our group and our descendants, SIGKILL what is left after ``grace_s``."""
    if os.name != "posix":
        return
    me = os.getpid()
    targets = descendants()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.getpgrp() == me:
        with contextlib.suppress(OSError):
            os.killpg(me, signal.SIGTERM)
    for pid in targets:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(p) for p in targets):
        time.sleep(0.02)
    for pid in targets:
        if _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
