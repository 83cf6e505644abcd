"""Atomic file writes: a crash never leaves a half-written file under the final name.

Every file is written under a temporary name beside its target, checked (``verify``:
libraries such as ITK ignore a full disk and leave a short file without an error), fsynced,
and renamed over the target. A set of files that belongs together goes through
``weakseg.io.output_set`` instead, which builds on these helpers.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

Verify = Callable[[Path], None]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-global, not thread-safe
FILE_MODE = 0o666 & ~_UMASK
"""The mode a file created with ``open()`` would get: outputs keep the user's usual permissions."""


def fsync_dir(directory: str | Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_fsync_dir = fsync_dir


def fsync_file(path: str | Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(target: str | Path, verify: Verify | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success check, fsync and rename it over ``target``.

    The temporary name keeps the target's suffixes (``.nii.gz``, ``.seg.nrrd``) so that
    writers choosing a format from the extension still work. On any exception the
    temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes)[-40:] or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name.split('.')[0][:40]}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, FILE_MODE)  # mkstemp makes 0600, and some writers recreate the file
        fsync_file(tmp_path)
        if verify is not None:
            verify(tmp_path)
        os.replace(tmp_path, target)
        fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_bytes_atomic(target: str | Path, data: bytes) -> None:
    with atomic_path(target, verify=lambda tmp: _same_length(tmp, len(data))) as tmp:
        tmp.write_bytes(data)


def _same_length(path: Path, length: int) -> None:
    if path.stat().st_size != length:
        raise OSError(28, "No space left on device", str(path))


def write_text_atomic(target: str | Path, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_with(target: str | Path, writer: Callable[[Path], None], verify: Verify | None = None) -> None:
    """Call ``writer(tmp_path)`` and move the result into place atomically (after ``verify(tmp_path)``)."""
    with atomic_path(target, verify) as tmp:
        writer(tmp)
