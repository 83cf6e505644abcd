"""The one way results are written: a set of files that appears whole, or not at all.

``OutputSet`` is built *before* any work, from the final paths of every file a command
will write, and refuses (``WeakSegError``, exit 2) destinations that are unsafe:

- a file name that is not a plain name inside the output folder (``../x``, ``/abs``),
  or longer than NAME_MAX;
- a destination that is one of the command's inputs, lies in (or below) a case folder
  the command reads, or in any folder holding MRI sequences: writing there would change
  the case;
- a folder that is a file, a file that is a folder, a place we may not write.

Writing (``with outputs:``) goes into a hidden staging folder beside the final files;
writers use ``outputs.path(kind)`` and need no atomic tricks of their own. On success
every file is checked complete (a full disk makes ITK write short files without an
error), fsynced, recorded in a commit marker, and renamed into place; stale files of the
same result set (``retire``) are removed. On any failure the staging folder is removed
and the previous result set is untouched. A writer killed during the renames leaves the
marker: the next ``OutputSet`` in that folder finishes the commit, so a result set is
never left mixed.

A model folder (a set that is a folder) goes through ``staged_folder``, whose commit is a
single rename (an atomic exchange on Linux).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from weakseg.errors import WeakSegError, from_os_error
from weakseg.io.atomic import FILE_MODE, fsync_dir, fsync_file
from weakseg.io.lock import FileLock

STAGING_PREFIX = ".weakseg-staging-"
_MARKER = ".commit"
_LOCK = ".lock"
NAME_MAX = 255
_MRI = re.compile(r"[_-](t1|t1n|t1ce|t1c|t1gd|t2|t2w|flair|t2f)\.(nii|nii\.gz|nrrd|mha|nhdr)$", re.I)


def _resolved(path: str | Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(str(path))))


def _real(path: Path) -> Path:
    with contextlib.suppress(OSError):
        return path.resolve()
    return path


def holds_mri(folder: Path) -> bool:
    """True when ``folder`` holds BraTS-named MRI sequences, i.e. is a case folder."""
    try:
        return any(_MRI.search(entry.name) for entry in os.scandir(folder) if entry.is_file())
    except OSError:
        return False


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_destination(targets: Iterable[Path], *, inputs: Iterable[str | Path] = (),
                      case_dirs: Iterable[str | Path] = (), what: str = "output") -> None:
    """Refuse unsafe destinations (see the module docstring) before any work is done."""
    inputs = [_resolved(p) for p in inputs if p]
    real_inputs = {_real(p) for p in inputs}
    protected = [_real(_resolved(p)) for p in case_dirs if p]
    for target in targets:
        target = _resolved(target)
        if len(target.name.encode("utf-8")) > NAME_MAX:
            raise WeakSegError(f"{what} file name is too long ({len(target.name.encode('utf-8'))} bytes; the limit is "
                               f"{NAME_MAX}); choose a shorter case id or prefix", target)
        if target in inputs or _real(target) in real_inputs:
            raise WeakSegError(f"{what} would overwrite the command's own input; choose another destination", target)
        if target.is_dir():
            raise WeakSegError(f"{what} is an existing folder, expected a file name", target)
        parent = _real(target.parent)
        for case_dir in protected:
            if parent == case_dir or case_dir in parent.parents:
                raise WeakSegError(f"{what} lies inside the case folder {case_dir}; writing there would change the case "
                                   "(its files are read as the case's own images and labels); choose another folder",
                                   target)
        if parent.is_dir() and holds_mri(parent):  # its files would be read as the case's own images and labels
            raise WeakSegError(f"{what} would be written into a case folder ({parent} holds MRI sequences), changing "
                               "the case; choose another folder", target)
        existing = _nearest_existing(target.parent)
        if not existing.is_dir():
            raise WeakSegError(f"{what} folder cannot be created: {existing} is a file, not a folder", target)
        if not os.access(existing, os.W_OK | os.X_OK):
            reason = "read-only file system" if _read_only(existing) else "permission denied"
            raise WeakSegError(f"cannot write the {what} here: {reason}", existing)


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


class OutputSet:
    """Files written together. ``files`` maps a kind ('labels', 'montage', ...) to its final path.

    ``out_dir``: when given, every name must be a plain file name inside it. ``inputs``:
    paths the command reads (never overwritten). ``case_dirs``: case folders that must not
    be written into. ``retire``: final paths of an older result set of the same name that
    are removed on commit when this set does not write them (no stale RTSTRUCT beside new
    labels).
    """

    def __init__(self, files: Mapping[str, str | Path], *, out_dir: str | Path | None = None,
                 inputs: Iterable[str | Path] = (), case_dirs: Iterable[str | Path] = (),
                 retire: Iterable[str | Path] = (), what: str = "output"):
        self.out_dir = None if out_dir is None else _resolved(out_dir)
        if self.out_dir is not None and self.out_dir.exists() and not self.out_dir.is_dir():
            raise WeakSegError("output folder is an existing file, not a folder", self.out_dir)
        self.what = what
        self.inputs = list(inputs)
        self.case_dirs = list(case_dirs)
        self.final: dict[str, Path] = {}
        self.retire = [self._place(p) for p in retire]
        self._staging: dict[Path, Path] = {}
        self._locks: list[FileLock] = []
        for kind, name in files.items():
            self.add(kind, name)

    def _place(self, name: str | Path) -> Path:
        if self.out_dir is None:
            return _resolved(name)
        text = str(name)
        if not text or Path(text).is_absolute() or Path(text).name != text or text in (".", ".."):
            raise WeakSegError(f"{self.what} file name {text!r} must be a plain name inside the output folder",
                               self.out_dir)
        return self.out_dir / text

    def add(self, kind: str, name: str | Path) -> Path:
        """Add a file to the set (checked like the others); returns its final path."""
        target = self._place(name)
        if target in self.final.values():
            raise WeakSegError(f"two outputs would share one file name", target)
        check_destination([target], inputs=self.inputs, case_dirs=self.case_dirs, what=self.what)
        self.final[kind] = target
        return target

    # ------------------------------------------------------------------ writing

    def __enter__(self) -> "OutputSet":
        try:
            for folder in sorted({p.parent for p in self.final.values()}):
                folder.mkdir(parents=True, exist_ok=True)
                recover(folder)
                staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
                lock = FileLock(staging / _LOCK, timeout=0)
                lock.acquire()
                self._locks.append(lock)
                self._staging[folder] = staging
        except OSError as exc:
            self._abort()
            raise from_os_error(exc, doing=f"cannot prepare the {self.what} folder") from None
        return self

    @property
    def active(self) -> bool:
        """True between ``__enter__`` and the commit (files may be written)."""
        return bool(self._staging)

    def path(self, kind: str) -> Path:
        """Where to write ``kind`` now (inside the staging folder, with the final file name)."""
        final = self.final[kind]
        return self._staging[final.parent] / final.name

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort()
            if isinstance(exc, OSError):
                raise self._named(exc) from None
            return
        try:
            self.commit()
        except OSError as error:
            self._abort()
            raise self._named(error) from None
        except BaseException:
            self._abort()
            raise

    def _named(self, exc: OSError) -> WeakSegError:
        """The OS error, naming the final file rather than its staging copy."""
        if exc.filename:
            written = Path(exc.filename)
            final = next((p for p in self.final.values() if _same_output(written, p)), None)
            if final is not None:
                exc.filename = str(final)
            elif any(folder in written.parents for folder in self._staging.values()):
                exc.filename = str(written.parent.parent)
        return from_os_error(exc, path=self.out_dir or next(iter(self.final.values()), None),
                             doing=f"cannot write the {self.what}")

    def commit(self) -> None:
        from weakseg.io.image import verify_written

        for kind, final in self.final.items():
            staged = self.path(kind)
            if not staged.is_file():
                raise WeakSegError(f"internal: {self.what} '{kind}' was not written", final)
            os.chmod(staged, FILE_MODE)
            verify_written(staged)
            fsync_file(staged)
        for folder, staging in self._staging.items():
            renames = {p.name: str(p) for p in self.final.values() if p.parent == folder}
            retire = [str(p) for p in self.retire if p.parent == folder and str(p) not in renames.values()]
            marker = staging / _MARKER
            with open(marker, "w", encoding="utf-8") as handle:
                json.dump({"renames": renames, "retire": retire}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            fsync_dir(staging)
        for folder, staging in self._staging.items():
            _finish(staging)
        self._release()

    def _abort(self) -> None:
        for staging in self._staging.values():
            shutil.rmtree(staging, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        for lock in self._locks:
            lock.release()
        self._locks.clear()
        self._staging.clear()


def _same_output(written: Path, final: Path) -> bool:
    """True when ``written`` is ``final``'s staged copy, or the temporary file of an atomic write of it."""
    if written.name == final.name:
        return True
    stem, suffix = final.name.split(".")[0][:40], "".join(final.suffixes)[-40:]
    return written.name.startswith(f".{stem}.") and written.name.endswith(suffix)


def _finish(staging: Path) -> None:
    """Carry out a staging folder's commit marker: rename its files into place, retire stale ones, clean up."""
    marker = json.loads((staging / _MARKER).read_text(encoding="utf-8"))
    for name, final in marker["renames"].items():
        source = staging / name
        if source.exists():
            os.replace(source, final)
    for stale in marker.get("retire", []):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
    fsync_dir(staging.parent)
    shutil.rmtree(staging, ignore_errors=True)


def recover(folder: str | Path) -> None:
    """Finish or discard staging folders of writers that died (their lock is free): never a mixed set."""
    folder = Path(folder)
    try:
        entries = [p for p in folder.iterdir() if p.name.startswith(STAGING_PREFIX) and p.is_dir()]
    except OSError:
        return
    for staging in entries:
        lock = FileLock(staging / _LOCK, timeout=0)
        try:
            if lock.held_here() or not lock.try_acquire():
                continue  # a live writer
        except OSError:
            continue
        try:
            if (staging / _MARKER).is_file():
                with contextlib.suppress(OSError, ValueError, KeyError):
                    _finish(staging)
            shutil.rmtree(staging, ignore_errors=True)
        finally:
            lock.release()


# ---------------------------------------------------------------------------- folders


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP if hasattr(errno, "ENOTSUP") else errno.EINVAL):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


@contextlib.contextmanager
def staged_folder(target: str | Path, *, inputs: Iterable[str | Path] = (), what: str = "output folder",
                  verify: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on success it replaces ``target`` in one rename.

    On failure (or a kill) ``target`` is untouched and nothing is left under its name.
    """
    from weakseg.io.image import verify_written

    target = _resolved(target)
    if target.exists() and not target.is_dir():
        raise WeakSegError(f"{what} is an existing file, expected a folder", target)
    check_destination([target / "x"], inputs=inputs, what=what)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        recover(target.parent)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target.parent))
    except OSError as exc:
        raise from_os_error(exc, doing=f"cannot create the {what}") from None
    lock = FileLock(staging / _LOCK, timeout=0)
    lock.acquire()
    try:
        content = staging / "content"
        content.mkdir()
        yield content
        for path in content.rglob("*"):
            if path.is_file():
                os.chmod(path, FILE_MODE)
                (verify or verify_written)(path)
                fsync_file(path)
        fsync_dir(content)
        if target.exists():
            if not _exchange(content, target):
                old = staging / "old"
                os.replace(target, old)
                os.replace(content, target)
        else:
            os.replace(content, target)
        fsync_dir(target.parent)
    except OSError as exc:
        raise from_os_error(exc, path=target, doing=f"cannot write the {what}") from None
    finally:
        lock.release()
        shutil.rmtree(staging, ignore_errors=True)
