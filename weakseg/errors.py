"""One error taxonomy for every user-facing failure.

- ``WeakSegError``: bad input or environment (a file, a folder, an argument). The CLI and
  the worker print ``str(error)`` as a single line naming the path and exit 2.
- anything else is a bug: exit 3, one line unless ``WEAKSEG_DEBUG=1``.

``OSError`` raised by the operating system (permission denied, disk full, name too long,
a file where a folder is expected...) is the user's environment, not a bug:
:func:`from_os_error` turns it into a ``WeakSegError`` naming the path.
"""

from __future__ import annotations

import errno
from pathlib import Path

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 2, 3, 130


class WeakSegError(Exception):
    """A problem with the user's input or environment, reported in one line."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class Cancelled(WeakSegError):
    """The caller's cancel event was set (training, inference, export); nothing has been written."""

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)


_OS_MESSAGES = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "file name too long",
    errno.EISDIR: "is a folder, expected a file",
    errno.ENOTDIR: "a part of the path is a file, expected a folder",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "not found",
    errno.EEXIST: "already exists",
    errno.ENOTEMPTY: "folder is not empty",
    errno.EXDEV: "lies on another file system",
    errno.EIO: "input/output error (failing disk or network share?)",
    errno.EMFILE: "too many open files",
    errno.ELOOP: "too many symbolic links",
}

OS_ERRORS_AS_INPUT = tuple(_OS_MESSAGES)
"""errno values that describe the user's files or disk, not a bug."""


def is_environment_error(exc: BaseException) -> bool:
    """True for an ``OSError`` about files or disks (mapped to exit 2), False for anything else."""
    return isinstance(exc, OSError) and (exc.errno in _OS_MESSAGES or exc.filename is not None)


def from_os_error(exc: OSError, path: str | Path | None = None, doing: str = "") -> WeakSegError:
    """A one-line ``WeakSegError`` for an ``OSError``: what failed, on which path.

    ``path`` is used when the error itself names none (e.g. a full disk during a write).
    """
    reason = _OS_MESSAGES.get(exc.errno) or (exc.strerror or type(exc).__name__).lower()
    where = exc.filename if exc.filename is not None else path
    if exc.filename2 is not None:
        where = f"{exc.filename} -> {exc.filename2}"
    text = f"{doing}: {reason}" if doing else reason
    return WeakSegError(text, where)
