"""A study's small result files, kept in the repository so a lost machine loses no finished unit.

A study's state folder (``../runs/<study>``) holds checkpoints, which are large and never committed, and,
for every finished unit, the small JSON files its report is built from (``eval.json`` and the like). When
the machine is lost, so is the state, and every finished unit would have to be trained again (hours each).
``save`` packs those small files into one gzipped JSON next to the report (``docs/results/…units.json.gz``);
``restore`` writes back the ones a fresh state lacks, never overwriting one, so ``run`` skips the finished
units and ``report`` rebuilds the same tables. A restored unit has its results but not its model.

``refuse_to_shrink`` stops a report from replacing a committed one that holds a finished unit the new one
lacks (a report regenerated on a fresh state before it was restored).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

MAX_FILE_BYTES = 8 * 1024 * 1024
"""Larger files are not results; they stay out of the archive."""


class ArchiveError(RuntimeError):
    """The archive does not fit the state it would be restored into."""


DONE_MARKER = "eval.json"
"""A unit is finished when its folder holds this file; only finished units are archived (a restored
half-trained unit would look further along than its missing checkpoints)."""


def collect(root: Path, patterns: tuple[str, ...]) -> dict[str, str]:
    """{path relative to ``root``: text} of the files matching ``patterns`` (glob, relative to ``root``) that
    are top-level or belong to a finished unit (a folder on their path holds ``DONE_MARKER``)."""
    files: dict[str, str] = {}
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            folders = [f for f in path.parents if f != root and root in f.parents]
            if folders and not any((f / DONE_MARKER).is_file() for f in folders):
                continue
            files[path.relative_to(root).as_posix()] = path.read_text()
    return files


def save(root: Path, archive: Path, patterns: tuple[str, ...]) -> int:
    """Write the archive of ``root`` atomically, keeping entries of an older archive the state lacks.

    Returns the number of files archived."""
    from weakseg.io.atomic import write_bytes_atomic

    files = read(archive) if archive.is_file() else {}
    files.update(collect(root, patterns))
    payload = json.dumps({"format": "weakseg-study-archive/1", "files": dict(sorted(files.items()))}, indent=0)
    write_bytes_atomic(archive, gzip.compress(payload.encode(), mtime=0))
    return len(files)


def read(archive: Path) -> dict[str, str]:
    try:
        record = json.loads(gzip.decompress(archive.read_bytes()))
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{archive}: not a study archive ({exc})") from None
    if not isinstance(record, dict) or record.get("format") != "weakseg-study-archive/1":
        raise ArchiveError(f"{archive}: not a study archive (unknown format)")
    return record["files"]


def restore(archive: Path, root: Path, folds: list | None = None) -> list[str]:
    """Write the archived files ``root`` lacks (never overwriting); return their relative paths.

    With ``folds`` (the split a run is about to use), an archive of another split is left alone (another
    data set, e.g. a test's). A state whose ``plan.json`` differs from the archived one is refused: its
    units would be paired with results of other folds."""
    from weakseg.io.atomic import write_text_atomic

    if not archive.is_file():
        return []
    files = read(archive)
    if folds is not None and ("plan.json" not in files or json.loads(files["plan.json"]).get("folds") != folds):
        return []
    plan = root / "plan.json"
    if "plan.json" in files and plan.is_file() and json.loads(plan.read_text()).get("folds") != json.loads(
            files["plan.json"]).get("folds"):
        raise ArchiveError(f"{plan}: another split than the archived one in {archive}; use another state folder")
    written = []
    for relative, text in files.items():
        target = root / relative
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise ArchiveError(f"{archive}: entry {relative!r} points outside the state folder")
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, text)
        written.append(relative)
    return written


def restore_or_exit(archive: Path, root: Path, folds: list | None = None) -> None:
    """``restore`` for a command line: an unfitting archive is a one-line error, a restore says how many files."""
    try:
        written = restore(archive, root, folds)
    except ArchiveError as exc:
        raise SystemExit(f"error: {exc}") from None
    if written:
        print(f"restored {len(written)} result files of finished units from {archive}", flush=True)


def refuse_to_shrink(previous: Path, record: dict, units_of) -> None:
    """SystemExit when the committed report ``previous`` holds a finished unit the new ``record`` lacks.

    ``units_of(record) -> set`` names a report's finished units, e.g. {"recipe-2d/0", …}."""
    if not previous.is_file():
        return
    try:
        before = units_of(json.loads(previous.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError):
        return
    lost = sorted(before - units_of(record))
    if lost:
        raise SystemExit(f"error: {previous} has {len(lost)} finished units this state lacks ({', '.join(lost[:4])}"
                         f"{', …' if len(lost) > 4 else ''}): it was not restored (experiments/study_archive.py); "
                         "the report was not replaced")


def folds_done(section: str):
    """``units_of`` for reports listing ``folds_done`` per entry of ``record[section]``."""
    return lambda record: {f"{name}/{k}" for name, entry in record[section].items() for k in entry.get("folds_done", [])}
