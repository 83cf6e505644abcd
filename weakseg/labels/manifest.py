"""Dataset manifest: which cases exist, what labels they carry, how they split, and file SHA-256s.

An experiment cites a manifest rather than a folder, so it can be rerun on exactly the same
cases and folds, and a changed or missing file is noticed instead of silently used.
Splits are k folds drawn from a seed after sorting case ids, so they do not depend on the
order the file system lists folders; cases are stratified by their label kinds, so that
fully and weakly annotated cases spread evenly over the folds.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from weakseg.errors import WeakSegError
from weakseg.io.jsonfile import read_json_object
from weakseg.io.atomic import write_text_atomic
from weakseg.io.case import find_case_files
from weakseg.io.digest import sha256_file
from weakseg.labels.schema import KINDS, SIDECAR_DIR, SIDECAR_JSON, STATUSES
from weakseg.labels.store import WeakLabelStore

MANIFEST_SCHEMA = "weakseg.manifest"
MANIFEST_VERSION = 1



@dataclass
class CaseEntry:
    """One case: where it is (relative to the root), what it holds, and its files' hashes."""

    id: str
    path: str
    sequences: list[str]
    label_kinds: list[str]
    status: str
    files: dict[str, str] = field(default_factory=dict)  # path relative to root -> sha256


@dataclass
class FileCheck:
    """Result of checking files against a manifest (paths relative to the root)."""

    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing)


@dataclass
class Manifest:
    root: Path
    cases: list[CaseEntry]
    folds: list[list[str]]  # case ids per fold
    seed: int
    created: str = ""

    def case(self, case_id: str) -> CaseEntry:
        for entry in self.cases:
            if entry.id == case_id:
                return entry
        raise KeyError(case_id)

    def split(self, fold: int) -> tuple[list[str], list[str]]:
        """(training ids, held-out ids) for cross-validation fold ``fold``."""
        if not 0 <= fold < len(self.folds):
            raise IndexError(f"fold {fold} outside 0-{len(self.folds) - 1}")
        held = self.folds[fold]
        return [c.id for c in self.cases if c.id not in set(held)], list(held)

    def case_dir(self, case_id: str) -> Path:
        return self.root / self.case(case_id).path

    def verify(self) -> FileCheck:
        """Re-hash every listed file; report changed and missing ones, and new files in case folders."""
        check = FileCheck()
        for entry in self.cases:
            for rel, digest in entry.files.items():
                path = self.root / rel
                if not path.is_file():
                    check.missing.append(rel)
                elif sha256_file(path) != digest:
                    check.changed.append(rel)
            case_dir = self.root / entry.path
            if case_dir.is_dir():
                check.added.extend(rel for rel in _case_files(self.root, case_dir) if rel not in entry.files)
        return check

    def to_json(self, manifest_path: Path | None = None) -> dict:
        root = str(self.root)
        if manifest_path is not None:
            try:
                root = os.path.relpath(self.root.resolve(), manifest_path.resolve().parent)
            except ValueError:  # another drive on Windows
                root = str(self.root.resolve())
        return {
            "schema": MANIFEST_SCHEMA,
            "schema_version": MANIFEST_VERSION,
            "created": self.created,
            "root": root,
            "root_absolute": str(self.root.resolve()),
            "splits": {"k": len(self.folds), "seed": self.seed, "stratified_by": "label_kinds", "folds": self.folds},
            "cases": [vars(c) for c in self.cases],
        }


def _case_files(root: Path, case_dir: Path) -> list[str]:
    """Every regular file below ``case_dir`` (weak-label sidecar included), relative to ``root``, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(case_dir):
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith("."):  # temp files of an interrupted atomic write
                continue
            out.append(Path(dirpath, name).relative_to(root).as_posix())
    return out


def find_cases(root: Path) -> list[Path]:
    """Folders below ``root`` holding a case (BraTS-named images or a weak-label sidecar); not descended into."""
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d != SIDECAR_DIR and not d.startswith("."))
        if (here / SIDECAR_DIR / SIDECAR_JSON).is_file() or any(k != "seg" for k in find_case_files(here)):
            found.append(here)
            dirnames[:] = []
    return found


def _describe_case(root: Path, case_dir: Path) -> CaseEntry:
    files = find_case_files(case_dir)
    kinds = set()
    status = "complete" if "seg" in files else "not started"
    if WeakLabelStore.exists(case_dir):
        store = WeakLabelStore.open(case_dir, create=False)
        kinds.update(store.kinds())
        status = store.status
    if "seg" in files:
        kinds.add("full")
    rel = case_dir.relative_to(root).as_posix()
    return CaseEntry(id=case_dir.name if rel != "." else root.resolve().name, path=rel,
                     sequences=[s for s in ("t1", "t1c", "t2", "flair") if s in files],
                     label_kinds=[k for k in KINDS if k in kinds], status=status,
                     files={f: sha256_file(root / f) for f in _case_files(root, case_dir)})


def assign_folds(cases: list[CaseEntry], k: int, seed: int) -> list[list[str]]:
    """Stratified k-fold: shuffle each label-kind group with ``seed`` and deal cases round-robin.

    The deal continues across groups, so fold sizes differ by at most one.
    """
    if k < 2:
        raise WeakSegError(f"need at least 2 folds, got {k}")
    if k > len(cases):
        raise WeakSegError(f"cannot split {len(cases)} case(s) into {k} folds")
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, ...], list[str]] = {}
    for entry in sorted(cases, key=lambda c: c.id):
        groups.setdefault(tuple(entry.label_kinds), []).append(entry.id)
    folds: list[list[str]] = [[] for _ in range(k)]
    position = 0
    for key in sorted(groups):
        members = groups[key]
        for index in rng.permutation(len(members)):
            folds[position % k].append(members[index])
            position += 1
    return [sorted(f) for f in folds]


def build_manifest(root: str | Path, folds: int = 5, seed: int = 0) -> Manifest:
    """Scan ``root`` for cases, hash their files and split them into ``folds`` folds (nothing is written)."""
    root = Path(root)
    if not root.is_dir():
        raise WeakSegError("dataset folder not found", root)
    cases = [_describe_case(root, d) for d in find_cases(root)]
    if not cases:
        raise WeakSegError("no cases found (folders with BraTS-named images or weak labels)", root)
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise WeakSegError(f"case ids occur twice: {', '.join(duplicates)}", root)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Manifest(root=root, cases=sorted(cases, key=lambda c: c.id), folds=assign_folds(cases, folds, seed),
                    seed=seed, created=created)


def write_manifest(manifest: Manifest, path: str | Path) -> Path:
    """Write atomically; the root is stored relative to the manifest's folder when possible."""
    path = Path(path)
    write_text_atomic(path, json.dumps(manifest.to_json(path), indent=1) + "\n")
    return path


def _stays_inside(rel: str) -> bool:
    """True for a relative path without '..' (POSIX or Windows spelling): it cannot leave the dataset root."""
    if not rel or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        return False
    return ".." not in re.split(r"[\\/]", rel)


def load_manifest(path: str | Path, *, root: str | Path | None = None, verify: bool = False) -> Manifest:
    """Read and check a manifest; with ``verify``, re-hash files and raise if any changed or vanished.

    ``root`` overrides the recorded dataset folder (e.g. the data moved); call
    ``Manifest.verify()`` instead to get the lists of changed, missing and added files.
    """
    path = Path(path)
    data = read_json_object(path, "manifest")
    if data.get("schema") != MANIFEST_SCHEMA:
        raise WeakSegError(f"not a WeakSeg manifest (no \"schema\": \"{MANIFEST_SCHEMA}\")", path)
    version = data.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise WeakSegError("corrupt manifest: schema_version must be a positive integer", path)
    if version > MANIFEST_VERSION:
        raise WeakSegError(f"written by a newer WeakSeg (manifest schema {version}; this version reads up to "
                           f"{MANIFEST_VERSION})", path)
    try:
        cases = [CaseEntry(id=str(c["id"]), path=str(c["path"]), sequences=list(c["sequences"]),
                           label_kinds=list(c["label_kinds"]), status=str(c["status"]),
                           files={str(k): str(v) for k, v in c["files"].items()}) for c in data["cases"]]
        splits = data["splits"]
        folds = [[str(i) for i in fold] for fold in splits["folds"]]
        seed = int(splits["seed"])
        recorded_root = str(data["root"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WeakSegError(f"corrupt manifest: missing or malformed field {exc}", path) from None
    for entry in cases:
        for rel in [entry.path, *entry.files]:
            if not _stays_inside(rel):
                raise WeakSegError(f"corrupt manifest: case {entry.id!r} names {rel!r}, a path outside the dataset "
                                   "folder (absolute, or with '..'); refusing it", path)
    ids = [c.id for c in cases]
    in_folds = [i for fold in folds for i in fold]
    if sorted(in_folds) != sorted(ids) or len(set(ids)) != len(ids):
        raise WeakSegError("corrupt manifest: the folds do not partition the cases exactly", path)
    bad_status = [c.id for c in cases if c.status not in STATUSES]
    if bad_status:
        raise WeakSegError(f"corrupt manifest: unknown status for case(s) {', '.join(bad_status)}", path)
    base = Path(root) if root is not None else (path.parent / recorded_root)
    if root is None and not base.is_dir() and isinstance(data.get("root_absolute"), str):
        base = Path(data["root_absolute"])  # the manifest moved without the data
    manifest = Manifest(root=base, cases=cases, folds=folds, seed=seed, created=str(data.get("created", "")))
    if verify:
        check = manifest.verify()
        if not check.ok:
            problems = [f"changed {f}" for f in check.changed] + [f"missing {f}" for f in check.missing]
            more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
            raise WeakSegError(f"dataset differs from the manifest: {'; '.join(problems[:3])}{more}", path)
    return manifest
