"""An advisory lock on a file, released by the operating system when its holder dies.

Used by the weak-label store (one writer per case at a time) and by output staging
folders (a staging folder whose lock can be taken belongs to a writer that died).
``flock`` on POSIX, ``msvcrt.locking`` on Windows; re-entrant within one thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

from weakseg.errors import WeakSegError

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


_held = threading.local()


def _held_map() -> dict[str, list]:
    if not hasattr(_held, "locks"):
        _held.locks = {}
    return _held.locks


class FileLock:
    """``with FileLock(path, timeout=10, owner="dr_who"):`` — exclusive, waits up to ``timeout`` seconds.

    The holder's pid, host, owner and start time are written into the lock file, so a
    refused writer can say who holds it ("case is being edited by ...").
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0, owner: str | None = None, what: str = "file"):
        self.path = Path(path)
        self.timeout = timeout
        self.owner = owner
        self.what = what

    def holder(self) -> str:
        """Who holds the lock, as far as its file says."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return "another program"
        who = info.get("owner")
        return (f"{who + ', ' if who else ''}process {info.get('pid', '?')} on {info.get('host', '?')} "
                f"since {info.get('since', '?')}")

    def held_here(self) -> bool:
        """True when this thread holds the lock (``try_acquire`` would merely count up)."""
        with contextlib.suppress(OSError):
            return str(self.path.resolve()) in _held_map()
        return False

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when someone else holds it."""
        key = str(self.path.resolve())
        held = _held_map().get(key)
        if held is not None:
            held[1] += 1
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        if not _try_lock(fd):
            os.close(fd)
            return False
        info = {"pid": os.getpid(), "host": socket.gethostname(), "owner": self.owner,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0) if hasattr(os, "pwrite") else os.write(fd, json.dumps(info).encode())
        _held_map()[key] = [fd, 1]
        return True

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise WeakSegError(f"{self.what} is being edited by {self.holder()}; try again when it is done",
                                   self.path.parent)
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    def release(self) -> None:
        key = str(self.path.resolve())
        held = _held_map().get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _held_map()[key]
            with contextlib.suppress(OSError):
                os.ftruncate(held[0], 0)
            _unlock(held[0])
            os.close(held[0])

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
