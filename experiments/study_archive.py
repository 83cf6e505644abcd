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


def restore_or_exit(archive: Path, root: Path, folds: list | None = None, progress: bool = False) -> None:
    """``restore`` (or ``restore_resume`` with ``progress``) for a command line: an unfitting archive is a one-line
    error, a restore says how many files."""
    try:
        written = restore_resume(archive, root, folds) if progress else restore(archive, root, folds)
    except ArchiveError as exc:
        raise SystemExit(f"error: {exc}") from None
    if written:
        what = "progress files of unfinished units" if progress else "result files of finished units"
        print(f"restored {len(written)} {what} from {archive}", flush=True)


def carried_banner(carried: dict[str, str], noun: str, remeasured: dict[str, list] | None = None) -> list[str]:
    """The report lines saying which entries (name → report date) are carried from a committed report, and which
    of their folds this state has measured again (``remeasured``: name → folds; archived, not shown yet)."""
    if not carried:
        return []
    again = {n: f for n, f in (remeasured or {}).items() if f and n in carried}
    lines = ["**Carried results.** " + ", ".join(f"{n} (report of {d})" for n, d in carried.items()) + f": these "
             f"{noun}' units were lost with a machine before their results were archived; their held-out numbers are "
             "the committed report's, on the same split, not retrained. An entry is carried until the state holds a "
             "fold the committed one lacks; from then on it is the state's alone."]
    if again:
        lines[0] += (" Measured again in this state (same configuration and seed; archived, not on this page until "
                     "the entry is the state's): " + "; ".join(f"{n} fold(s) {', '.join(map(str, f))}"
                                                              for n, f in again.items()) + ".")
    return lines + [""]


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


def carried_entries(previous: Path, section: str, folds_in_state: dict[str, list], folds: list) -> dict[str, dict]:
    """The committed report's entries of ``record[section]`` that this state cannot yet improve on.

    A machine lost before the study archive existed took its units' files with it; their held-out results are in
    the committed report, measured on the same split. An entry is carried (marked ``carried_from``) while the state
    lacks one of its folds and holds none it lacks: a re-measured fold of it is kept in the archive but does not replace a
    complete entry piece by piece (its variant tables would not add up). Once the state has a new fold, the entry
    is the state's alone, and ``refuse_to_shrink`` stops a report that would lose a committed fold of it."""
    if not previous.is_file():
        return {}
    committed = json.loads(previous.read_text())
    if committed.get("plan", {}).get("folds") != folds:
        return {}
    stamp = committed.get("created") or committed.get("generated")
    out = {}
    for name, entry in committed.get(section, {}).items():
        done, held = set(entry.get("folds_done") or []), set(folds_in_state.get(name, ()))
        if done and held < done:  # the state lacks a committed fold (holding them all, it reports its own)
            out[name] = {**entry, "carried_from": entry.get("carried_from", stamp)}
    return out


def remeasured_folds(state_per_case: dict[str, dict], carried_per_case: dict[str, dict]) -> list[int]:
    """Folds whose held-out scores in the state differ from the carried entry's: measured again (a fold restored
    from the archive has the carried numbers and is not counted). Per-case rows carry their ``fold``."""
    return sorted({int(row["fold"]) for case, row in state_per_case.items()
                   if {k: v for k, v in row.items() if k != "fold"} !=
                   {k: v for k, v in carried_per_case.get(case, {}).items() if k != "fold"}})


RESUME_FORMAT = "weakseg-study-resume/1"
MAX_RESUME_BYTES = 24 * 1024 * 1024
"""A resume archive larger than this is not written (it would bloat the repository): such units restart."""


def _unit_folder(root: Path, path: Path) -> Path:
    """``<config>/fold-<k>``: the unit a state file belongs to."""
    return root.joinpath(*path.relative_to(root).parts[:2])


def collect_resume(root: Path, patterns: tuple[str, ...]) -> dict[str, bytes]:
    """{relative path: bytes} of the files matching ``patterns`` that belong to units still training (no
    ``DONE_MARKER``): their checkpoints and the models of their finished stages. A checkpoint beside a finished
    stage's ``model/card.json`` is left out (that stage restarts nothing)."""
    files: dict[str, bytes] = {}
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if not path.is_file() or (_unit_folder(root, path) / DONE_MARKER).is_file():
                continue
            if path.name == "checkpoint.pt" and (path.parent / "model" / "card.json").is_file():
                continue
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def save_resume(root: Path, archive: Path, patterns: tuple[str, ...]) -> int:
    """Replace ``archive`` with the progress of the units still training (a unit longer than one sitting resumes
    on a new machine from its last checkpoint instead of starting over); remove it when none is. Returns the
    number of files kept, or -1 when they exceed ``MAX_RESUME_BYTES`` (then nothing is written)."""
    import base64

    from weakseg.io.atomic import write_bytes_atomic

    files = collect_resume(root, patterns)
    if not files:
        archive.unlink(missing_ok=True)
        return 0
    if sum(len(b) for b in files.values()) > MAX_RESUME_BYTES:
        return -1
    plan = root / "plan.json"
    payload = {"format": RESUME_FORMAT, "folds": json.loads(plan.read_text())["folds"] if plan.is_file() else None,
               "files": {k: base64.b64encode(v).decode() for k, v in sorted(files.items())}}
    write_bytes_atomic(archive, gzip.compress(json.dumps(payload).encode(), mtime=0))
    return len(files)


def restore_resume(archive: Path, root: Path, folds: list) -> list[str]:
    """Write back the archived progress of units that are neither finished nor already under way here (a unit
    folder holding a checkpoint or a finished stage is left alone), for the same split only."""
    import base64

    from weakseg.io.atomic import write_bytes_atomic

    if not archive.is_file():
        return []
    try:
        record = json.loads(gzip.decompress(archive.read_bytes()))
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{archive}: not a resume archive ({exc})") from None
    if record.get("format") != RESUME_FORMAT:
        raise ArchiveError(f"{archive}: not a resume archive (unknown format)")
    if record["folds"] != folds:
        return []
    units: dict[Path, list[str]] = {}
    for relative in record["files"]:
        if Path(relative).is_absolute() or ".." in Path(relative).parts or len(Path(relative).parts) < 3:
            raise ArchiveError(f"{archive}: entry {relative!r} points outside a unit folder")
        units.setdefault(root.joinpath(*Path(relative).parts[:2]), []).append(relative)
    written = []
    for folder, relatives in units.items():
        if (folder / DONE_MARKER).is_file() or any(folder.rglob("checkpoint.pt")) or any(folder.rglob("card.json")):
            continue
        for relative in relatives:
            write_bytes_atomic(root / relative, base64.b64decode(record["files"][relative]))
            written.append(relative)
    return written


def folds_done(section: str):
    """``units_of`` for reports listing ``folds_done`` per entry of ``record[section]``."""
    return lambda record: {f"{name}/{k}" for name, entry in record[section].items() for k in entry.get("folds_done", [])}
