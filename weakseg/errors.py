"""One exception type for every user-facing failure.

The CLI and the worker print ``str(error)`` as a single line and exit non-zero,
so the message must name the file (when there is one) and the problem.
"""

from __future__ import annotations

from pathlib import Path


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
