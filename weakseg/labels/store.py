"""The weak-label store: one case's slice labels, scribbles, regions and full masks, on disk.

Layout (``<case>/weaklabels/``)::

    labels.json                      schema version, case id, grid, classes, status, annotator,
                                     timestamps, slice labels (run-length text), mask references
    scribbles-<class>-<hash>.nrrd    uint8: 0 unknown, 1 foreground, 2 background
    regions-<hash>.nrrd              uint8: 0 outside, 1 ROI1 core, 2 ROI2 possibly infiltrated, 3 ROI3 normal
    full-<class>-<hash>.nrrd         uint8: 0/1 full voxel mask of one class

Why mask names carry a content hash: ``save`` writes new masks under new names, then
replaces ``labels.json`` atomically, and only then deletes the masks nothing references.
The JSON rename is the single commit point, so a crash at any moment leaves either the
old or the new sidecar complete — never new masks under an old JSON.

A class absent from a kind is *unknown* for that kind, not absent: a structure set that
contours only some organs gives full masks for those organs and nothing for the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError, from_os_error
from weakseg.io.atomic import write_text_atomic, write_with
from weakseg.io.image import write_itk
from weakseg.io.lock import FileLock
from weakseg.io.digest import sha256_file as _sha256_file
from weakseg.labels.schema import (
    ABSENT, AXES, BACKGROUND, FOREGROUND, KINDS, PRESENT, ROI3, SCHEMA_NAME, SCHEMA_VERSION, SCRIBBLE_DISK,
    SIDECAR_DIR, SIDECAR_JSON, STATUSES, UNKNOWN, Grid, decode_runs, encode_runs,
)

log = logging.getLogger("weakseg")

_MASK_FILE = re.compile(r"^(scribbles|regions|full)-.*\.nrrd$")
_STALE_TEMP_S = 600.0
LOCK_NAME = ".lock"
LOCK_TIMEOUT_S = float(os.environ.get("WEAKSEG_LOCK_TIMEOUT", "30"))
"""Seconds a save waits for another writer of the same case before giving up."""


def case_lock(directory: Path, *, timeout: float | None = None, owner: str | None = None,
              case_id: str | None = None) -> FileLock:
    """The lock every writer of one sidecar folder takes (``.lock`` inside it)."""
    return FileLock(Path(directory) / LOCK_NAME, timeout=LOCK_TIMEOUT_S if timeout is None else timeout, owner=owner,
                    what=f"case {case_id}" if case_id else "case")
_MaskKey = tuple[str, str | None]  # (kind, class) — class is None for regions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")



def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", name)[:40] or "class"


def _compact_json(data: dict) -> str:
    """Indented JSON whose short numeric lists stay on one line (grid vectors)."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return re.sub(r"\[\s+([-0-9.eE,\s]+?)\s+\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]",
                  text) + "\n"


@dataclass
class _Mask:
    """A voxel-level item: the file it lives in (if saved) and its array (if loaded or changed)."""

    file: str | None = None
    sha256: str | None = None
    array: np.ndarray | None = None  # on-disk encoding (uint8)
    dirty: bool = False


class WeakLabelStore:
    """Weak labels of one case. Open with ``WeakLabelStore.open``; nothing is written until ``save``.

    Arrays are (z, y, x) on the case grid (``self.grid.shape``). Slice indices count along
    the array axis that ``grid.array_axis(axis)`` picks for "axial", "coronal" or "sagittal".
    """

    def __init__(self, directory: Path, grid: Grid, case_id: str):
        self.directory = Path(directory)
        self.grid = grid
        self.case_id = case_id
        self.annotator: str | None = None
        self.created: str = _now()
        self.modified: str | None = None
        self.provenance: dict[str, str] = {}
        """Free text per kind saying where labels came from, e.g. ``{"slices": "derived: erode 1"}``."""
        self._status = "not started"
        self._classes: list[str] = []
        self._slices: dict[str, dict[str, np.ndarray]] = {}
        self._masks: dict[_MaskKey, _Mask] = {}
        self._disk_sha: str | None = None  # sha256 of labels.json as last read or written
        self._meta_dirty = False

    # ------------------------------------------------------------------ opening

    @property
    def path(self) -> Path:
        """The sidecar's JSON file."""
        return self.directory / SIDECAR_JSON

    @classmethod
    def open(cls, case_dir: str | Path, *, sidecar: str | Path | None = None, grid: Grid | sitk.Image | None = None,
             case_id: str | None = None, create: bool = True) -> "WeakLabelStore":
        """Open the store of ``case_dir`` (sidecar ``<case_dir>/weaklabels/`` unless ``sidecar`` is given).

        An existing sidecar is read and checked: corrupt JSON, a newer schema version or a
        malformed field raise ``WeakSegError`` naming the file, which is left untouched. With
        no sidecar and ``create=True`` an empty store is returned (written on ``save``); its
        grid is ``grid`` or, failing that, read from the header of the case's reference image.
        ``grid`` given for an existing sidecar must match the recorded one.
        """
        case_dir = Path(case_dir)
        directory = Path(sidecar) if sidecar is not None else case_dir / SIDECAR_DIR
        given = Grid.from_image(grid) if isinstance(grid, sitk.Image) else grid
        json_path = directory / SIDECAR_JSON
        if json_path.exists():
            store = cls._read(directory)
            if given is not None and not store.grid.matches(given):
                raise WeakSegError("the weak labels were made on a different grid than the given image "
                                   f"({'x'.join(map(str, store.grid.size))} vs {'x'.join(map(str, given.size))} voxels, "
                                   "or different spacing/origin/direction)", json_path)
            return store
        if not create:
            raise WeakSegError("no weak-label sidecar (labels.json) here", directory)
        if given is None:
            given = _grid_of_case(case_dir)
        return cls(directory, given, case_id or case_dir.name)

    @classmethod
    def exists(cls, case_dir: str | Path, *, sidecar: str | Path | None = None) -> bool:
        directory = Path(sidecar) if sidecar is not None else Path(case_dir) / SIDECAR_DIR
        return (directory / SIDECAR_JSON).is_file()

    @classmethod
    def status_of(cls, case_dir: str | Path, *, sidecar: str | Path | None = None) -> str:
        """A case's annotation status for a case list: "not started" when it has no sidecar yet."""
        if not cls.exists(case_dir, sidecar=sidecar):
            return "not started"
        directory = Path(sidecar) if sidecar is not None else Path(case_dir) / SIDECAR_DIR
        return cls._read(directory).status

    @classmethod
    def _read(cls, directory: Path) -> "WeakLabelStore":
        path = directory / SIDECAR_JSON
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise WeakSegError(f"cannot read weak-label sidecar ({exc.strerror})", path) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise WeakSegError("corrupt weak-label sidecar: not UTF-8 text", path) from None
        except json.JSONDecodeError as exc:
            raise WeakSegError(f"corrupt weak-label sidecar: invalid JSON at line {exc.lineno} ({exc.msg})", path) from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
            raise WeakSegError(f"not a weak-label sidecar (no \"schema\": \"{SCHEMA_NAME}\")", path)
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise WeakSegError("corrupt weak-label sidecar: schema_version must be a positive integer", path)
        if version > SCHEMA_VERSION:
            raise WeakSegError(f"written by a newer WeakSeg (schema version {version}; this version reads up to "
                               f"{SCHEMA_VERSION}); upgrade WeakSeg to open it", path)
        store = cls(directory, Grid.from_json(data.get("grid"), path), _string(data, "case_id", path))
        store._parse(data, path)
        store._disk_sha = hashlib.sha256(raw).hexdigest()
        return store

    def _parse(self, data: dict, path: Path) -> None:
        status = data.get("status")
        if status not in STATUSES:
            raise WeakSegError(f"corrupt weak-label sidecar: status {status!r} is not one of {', '.join(STATUSES)}", path)
        self._status = status
        self.annotator = _string(data, "annotator", path, optional=True)
        self.created = _string(data, "created", path)
        self.modified = _string(data, "modified", path, optional=True)
        classes = data.get("classes", [])
        valid = isinstance(classes, list) and all(isinstance(c, str) and c for c in classes)
        if not valid or len(set(classes)) != len(classes):
            raise WeakSegError("corrupt weak-label sidecar: 'classes' must be a list of distinct names", path)
        self._classes = list(classes)
        provenance = data.get("provenance", {})
        if not isinstance(provenance, dict) or not all(isinstance(v, str) for v in provenance.values()):
            raise WeakSegError("corrupt weak-label sidecar: 'provenance' must map kinds to text", path)
        self.provenance = dict(provenance)
        slices = _mapping(data, "slices", path)
        for axis, per_class in slices.items():
            if axis not in AXES or not isinstance(per_class, dict):
                raise WeakSegError(f"corrupt weak-label sidecar: slices: unknown axis {axis!r}", path)
            n = self.grid.n_slices(axis)
            for name, runs in per_class.items():
                self._need_class(name, path)
                self._slices.setdefault(axis, {})[name] = decode_runs(runs, n, path, f"slices/{axis}/{name}")
        for kind in ("scribbles", "full"):
            for name, ref in _mapping(data, kind, path).items():
                self._need_class(name, path)
                self._masks[(kind, name)] = _mask_ref(ref, path, f"{kind}/{name}")
        regions = data.get("regions")
        if regions is not None:
            self._masks[("regions", None)] = _mask_ref(regions, path, "regions")

    def _need_class(self, name: str, path: Path) -> None:
        if name not in self._classes:
            raise WeakSegError(f"corrupt weak-label sidecar: labels for class {name!r} missing from 'classes'", path)

    # ------------------------------------------------------------------ metadata

    @property
    def status(self) -> str:
        """One of "not started", "partial", "complete", "reviewed"."""
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        if value not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {value!r}")
        self._status = value
        self._meta_dirty = True

    @property
    def classes(self) -> list[str]:
        """Class names in order of declaration (e.g. WT, TC, ET or organ names)."""
        return list(self._classes)

    def add_classes(self, names: Iterable[str]) -> None:
        """Declare classes (idempotent). A declared class with no labels of a kind is unknown for that kind."""
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"class names must be non-empty strings, not {name!r}")
            if name not in self._classes:
                self._classes.append(name)
                self._meta_dirty = True

    def kinds(self) -> list[str]:
        """The label kinds this store holds, in the order of ``KINDS``."""
        present = set()
        if any(self._slices.values()):
            present.add("slices")
        present.update(kind for kind, _ in self._masks)
        return [k for k in KINDS if k in present]

    def known_classes(self, kind: str, axis: str = "axial") -> list[str]:
        """Classes that have labels of ``kind`` (for "slices", on ``axis``); the rest are unknown."""
        if kind == "slices":
            return [c for c in self._classes if c in self._slices.get(axis, {})]
        if kind in ("scribbles", "full"):
            return [c for c in self._classes if (kind, c) in self._masks]
        if kind == "regions":
            return []
        raise ValueError(f"unknown label kind {kind!r}; expected one of {', '.join(KINDS)}")

    def clear(self, kind: str, cls: str | None = None) -> None:
        """Forget labels of one kind (for one class, or all): they become unknown."""
        if kind not in KINDS:
            raise ValueError(f"unknown label kind {kind!r}; expected one of {', '.join(KINDS)}")
        if kind == "slices":
            for per_class in self._slices.values():
                for name in [n for n in per_class if cls is None or n == cls]:
                    del per_class[name]
        else:
            for key in [k for k in self._masks if k[0] == kind and (cls is None or k[1] == cls)]:
                del self._masks[key]
        self._touch()

    # ------------------------------------------------------------------ slice labels

    def set_slice_label(self, cls: str, axis: str, index: int, value: int) -> None:
        """Mark one slice PRESENT (1), ABSENT (0) or UNKNOWN (-1) for ``cls``; other slices keep their labels."""
        value = _check_value(value)
        n = self.grid.n_slices(axis)
        if not 0 <= int(index) < n:
            raise IndexError(f"{axis} slice {index} outside 0-{n - 1}")
        self._slice_array(cls, axis)[int(index)] = value
        self._labelled()

    def set_slice_labels(self, cls: str, axis: str, values: Sequence[int] | np.ndarray) -> None:
        """Replace all slice labels of ``cls`` on ``axis`` (length = number of slices on that axis)."""
        values = np.asarray(values)
        n = self.grid.n_slices(axis)
        if values.shape != (n,):
            raise WeakSegError(f"{axis} slice labels need {n} values, got shape {values.shape}", self.path)
        if not np.isin(values, (PRESENT, ABSENT, UNKNOWN)).all():
            raise ValueError("slice labels must be PRESENT (1), ABSENT (0) or UNKNOWN (-1)")
        self.add_classes([cls])
        self._slices.setdefault(axis, {})[cls] = values.astype(np.int8)
        self._labelled()

    def set_slice_range(self, cls: str, axis: str, first: int, last: int, *, margin: int = 0) -> None:
        """Slices ``first``..``last`` (inclusive) present, all others absent; see ``set_slice_ranges``."""
        self.set_slice_ranges(cls, axis, [(first, last)], margin=margin)

    def set_slice_ranges(self, cls: str, axis: str, ranges: Iterable[tuple[int, int]], *, margin: int = 0) -> None:
        """Slices inside any range present, outside all ranges absent (multifocal tumours need several).

        ``margin`` > 0 marks the ``margin`` slices on each side of every boundary as unknown
        (for a range first..last: first-margin..first+margin-1 and last-margin+1..last+margin), the
        "uncertain margin" an annotator may not want to commit to.
        """
        n = self.grid.n_slices(axis)
        values = np.full(n, ABSENT, np.int8)
        ranges = [(int(a), int(b)) for a, b in ranges]
        for first, last in ranges:
            if not 0 <= first <= last < n:
                raise IndexError(f"{axis} slice range {first}-{last} outside 0-{n - 1} or reversed")
            values[first:last + 1] = PRESENT
        for first, last in ranges if margin > 0 else ():
            values[max(first - margin, 0):first + margin] = UNKNOWN
            values[max(last - margin + 1, 0):last + margin + 1] = UNKNOWN
        self.set_slice_labels(cls, axis, values)

    def slice_labels(self, cls: str, axis: str = "axial") -> np.ndarray:
        """int8 array, one value per slice on ``axis``: PRESENT, ABSENT or UNKNOWN (all unknown if unlabelled)."""
        stored = self._slices.get(axis, {}).get(cls)
        return stored.copy() if stored is not None else np.full(self.grid.n_slices(axis), UNKNOWN, np.int8)

    def slice_ranges(self, cls: str, axis: str = "axial") -> list[tuple[int, int]]:
        """Runs of present slices as inclusive (first, last) pairs, e.g. for a UI strip."""
        present = np.concatenate(([False], self.slice_labels(cls, axis) == PRESENT, [False]))
        edges = np.flatnonzero(np.diff(present.astype(np.int8)))
        return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]

    def _slice_array(self, cls: str, axis: str) -> np.ndarray:
        n = self.grid.n_slices(axis)
        self.add_classes([cls])
        return self._slices.setdefault(axis, {}).setdefault(cls, np.full(n, UNKNOWN, np.int8))

    # ------------------------------------------------------------------ scribbles

    def set_scribbles(self, cls: str, foreground: np.ndarray | sitk.Image, background: np.ndarray | sitk.Image) -> None:
        """Voxels marked foreground / background for ``cls``; all others unknown. The two must not overlap."""
        fg = self._as_array(foreground, "foreground scribbles") != 0
        bg = self._as_array(background, "background scribbles") != 0
        overlap = int(np.count_nonzero(fg & bg))
        if overlap:
            raise WeakSegError(f"foreground and background scribbles of {cls!r} overlap in {overlap} voxels")
        disk = np.zeros(self.grid.shape, np.uint8)
        disk[fg] = SCRIBBLE_DISK[FOREGROUND]
        disk[bg] = SCRIBBLE_DISK[BACKGROUND]
        self._put(("scribbles", cls), disk)

    def set_scribble_labels(self, cls: str, labels: np.ndarray) -> None:
        """The same as ``set_scribbles`` from one int8 array (1 foreground, 0 background, -1 unknown)."""
        labels = self._as_array(labels, "scribble labels")
        if not np.isin(labels, (FOREGROUND, BACKGROUND, UNKNOWN)).all():
            raise ValueError("scribble labels must be 1 (foreground), 0 (background) or -1 (unknown)")
        self.set_scribbles(cls, labels == FOREGROUND, labels == BACKGROUND)

    def scribbles(self, cls: str) -> np.ndarray:
        """int8 (z, y, x): 1 foreground, 0 background, -1 unknown (all unknown without scribbles)."""
        disk = self._get(("scribbles", cls))
        out = np.full(self.grid.shape, UNKNOWN, np.int8)
        if disk is not None:
            out[disk == SCRIBBLE_DISK[FOREGROUND]] = FOREGROUND
            out[disk == SCRIBBLE_DISK[BACKGROUND]] = BACKGROUND
        return out

    # ------------------------------------------------------------------ regions (paper 000)

    def set_regions(self, regions: np.ndarray | sitk.Image) -> None:
        """uint8 map: 0 outside, 1 ROI1 core, 2 ROI2 possibly infiltrated (unknown), 3 ROI3 normal-appearing."""
        array = self._as_array(regions, "regions")
        if not np.isin(array, range(ROI3 + 1)).all():
            raise ValueError("region labels must be 0 (outside), 1 (ROI1), 2 (ROI2) or 3 (ROI3)")
        self._put(("regions", None), array.astype(np.uint8))

    def regions(self) -> np.ndarray | None:
        """The region map (uint8, see ``set_regions``) or None when the case has none."""
        array = self._get(("regions", None))
        return None if array is None else array.copy()

    # ------------------------------------------------------------------ full voxel labels

    def set_full_mask(self, cls: str, mask: np.ndarray | sitk.Image) -> None:
        """Complete voxel mask of one class (an all-zero mask means: known to be absent everywhere)."""
        self._put(("full", cls), (self._as_array(mask, f"mask of {cls!r}") != 0).astype(np.uint8))

    def set_full_labels(self, labelmap: np.ndarray | sitk.Image, class_values: Mapping[str, int | Sequence[int]]) -> None:
        """Split a label map into class masks: ``{"WT": (1, 2, 4), "ET": 4}``; classes may overlap."""
        array = self._as_array(labelmap, "label map")
        for name, values in class_values.items():
            self.set_full_mask(name, np.isin(array, np.atleast_1d(values)))

    def full_mask(self, cls: str) -> np.ndarray | None:
        """bool (z, y, x) mask of ``cls``, or None when the class has no full labels (unknown)."""
        array = self._get(("full", cls))
        return None if array is None else array.astype(bool)

    def full_labels(self) -> dict[str, np.ndarray]:
        """Every class with full labels → its bool mask."""
        return {c: self.full_mask(c) for c in self.known_classes("full")}

    # ------------------------------------------------------------------ saving

    def save(self, *, force: bool = False, timeout: float | None = None) -> Path:
        """Write the sidecar atomically and return the JSON path.

        The commit protocol: take the case's lock (waiting up to ``timeout`` s, default
        ``LOCK_TIMEOUT_S``; then "case is being edited by ..."), compare labels.json with the
        version this store read (refused with ``WeakSegError`` when another program saved
        since, unless ``force``), write new masks (each atomically and read back, under
        content-hashed names), replace the JSON (the commit point), remove masks nothing
        references, release the lock. A crash at any moment leaves the previous sidecar
        whole; two writers can never both succeed from the same version (no lost update).
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._lock(timeout):
                if not force:
                    self._check_unchanged_on_disk()
                for key, item in sorted(self._masks.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
                    if item.dirty:
                        self._write_mask(key, item)
                self.modified = _now()
                text = _compact_json(self._to_json())
                write_text_atomic(self.path, text)
                self._disk_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
                self._meta_dirty = False
                self._remove_unreferenced()
        except OSError as exc:
            raise from_os_error(exc, self.directory, "cannot write weak labels") from None
        return self.path

    def _lock(self, timeout: float | None = None) -> FileLock:
        return case_lock(self.directory, timeout=timeout, owner=self.annotator, case_id=self.case_id)

    @classmethod
    @contextlib.contextmanager
    def edit(cls, case_dir: str | Path, *, sidecar: str | Path | None = None, grid: Grid | sitk.Image | None = None,
             case_id: str | None = None, create: bool = True, timeout: float | None = None,
             owner: str | None = None) -> Iterator["WeakLabelStore"]:
        """Open a case's store under its lock, yield it, and save it if changed: a read-modify-write
        no other writer can interleave with (what ``weakseg labels set-range`` and scripts use)."""
        case_dir = Path(case_dir)
        directory = Path(sidecar) if sidecar is not None else case_dir / SIDECAR_DIR
        if sidecar is None and not case_dir.is_dir():
            raise WeakSegError("case folder not found", case_dir)
        if not (directory / SIDECAR_JSON).exists() and not create:
            raise WeakSegError("no weak-label sidecar (labels.json) here", directory)
        created = not directory.exists()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with case_lock(directory, timeout=timeout, owner=owner, case_id=case_id or case_dir.name):
                store = cls.open(case_dir, sidecar=sidecar, grid=grid, case_id=case_id, create=create)
                yield store
                if store.dirty:
                    store.save(timeout=timeout)
        except OSError as exc:
            raise from_os_error(exc, directory, "cannot edit weak labels") from None
        finally:
            if created and not (directory / SIDECAR_JSON).exists():
                with contextlib.suppress(OSError):
                    (directory / LOCK_NAME).unlink()
                    directory.rmdir()

    @property
    def dirty(self) -> bool:
        """True when there are changes not yet saved."""
        return self._meta_dirty or any(m.dirty for m in self._masks.values()) or self._disk_sha is None

    def verify(self) -> None:
        """Read every mask, checking its hash, geometry and values; raise ``WeakSegError`` on the first problem."""
        for key in list(self._masks):
            self._get(key)

    def summary(self) -> dict:
        """A JSON-friendly description (what ``weakseg labels show`` prints)."""
        voxel_ml = float(np.prod(self.grid.spacing)) / 1000.0
        out: dict = {"case": self.case_id, "sidecar": str(self.path), "status": self.status, "annotator": self.annotator,
                     "created": self.created, "modified": self.modified, "grid": self.grid.to_json(),
                     "classes": self.classes, "kinds": self.kinds(), "provenance": self.provenance}
        values = ((PRESENT, "present"), (ABSENT, "absent"), (UNKNOWN, "unknown"))
        out["slices"] = {axis: {c: {"ranges": self.slice_ranges(c, axis),
                                    "counts": {name: int(np.count_nonzero(self.slice_labels(c, axis) == v))
                                               for v, name in values}}
                                for c in per_class} for axis, per_class in self._slices.items() if per_class}
        out["scribbles"] = {c: {"foreground_voxels": int(np.count_nonzero(s == FOREGROUND)),
                                "background_voxels": int(np.count_nonzero(s == BACKGROUND))}
                            for c in self.known_classes("scribbles") for s in [self.scribbles(c)]}
        regions = self.regions()
        if regions is not None:
            out["regions_ml"] = {f"ROI{v}": round(float(np.count_nonzero(regions == v)) * voxel_ml, 3) for v in (1, 2, 3)}
        out["full_ml"] = {c: round(float(np.count_nonzero(m)) * voxel_ml, 3) for c, m in self.full_labels().items()}
        return out

    # ------------------------------------------------------------------ internals

    def _touch(self) -> None:
        self._meta_dirty = True

    def _labelled(self) -> None:
        """A label was set: a case "not started" is now "partial" (an explicit status set later wins)."""
        if self._status == "not started":
            self._status = "partial"
        self._touch()

    def _as_array(self, value: np.ndarray | sitk.Image, what: str) -> np.ndarray:
        if isinstance(value, sitk.Image):
            if not self.grid.matches(value):
                raise WeakSegError(f"{what} is not on the case grid ({'x'.join(map(str, value.GetSize()))} voxels, spacing "
                                   f"{tuple(round(s, 4) for s in value.GetSpacing())}; expected "
                                   f"{'x'.join(map(str, self.grid.size))}, {self.grid.spacing})", self.path)
            return sitk.GetArrayFromImage(value)
        array = np.asarray(value)
        if array.shape != self.grid.shape:
            raise WeakSegError(f"{what} has shape {array.shape}; the case grid is (z, y, x) {self.grid.shape}", self.path)
        return array

    def _put(self, key: _MaskKey, disk_array: np.ndarray) -> None:
        if key[1] is not None:
            self.add_classes([key[1]])
        self._masks[key] = _Mask(array=np.ascontiguousarray(disk_array, np.uint8), dirty=True)
        self._labelled()

    def _get(self, key: _MaskKey) -> np.ndarray | None:
        item = self._masks.get(key)
        if item is None:
            return None
        if item.array is None:
            item.array = self._read_mask(key, item)
        return item.array

    def _read_mask(self, key: _MaskKey, item: _Mask) -> np.ndarray:
        path = self.directory / item.file
        if not path.is_file():
            raise WeakSegError(f"weak-label mask referenced by {SIDECAR_JSON} is missing", path)
        if _sha256_file(path) != item.sha256:
            raise WeakSegError(f"weak-label mask does not match the SHA-256 recorded in {SIDECAR_JSON} "
                               "(changed or damaged after saving)", path)
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError:
            raise WeakSegError("weak-label mask could not be read as an image", path) from None
        if not self.grid.matches(image):
            raise WeakSegError(f"weak-label mask geometry differs from the grid recorded in {SIDECAR_JSON}", path)
        if image.GetPixelID() != sitk.sitkUInt8:
            raise WeakSegError(f"weak-label mask has voxel type {image.GetPixelIDTypeAsString()}, expected uint8", path)
        array = sitk.GetArrayFromImage(image)
        allowed = {"scribbles": 2, "regions": ROI3, "full": 1}[key[0]]
        if array.size and int(array.max()) > allowed:
            raise WeakSegError(f"weak-label mask has value {int(array.max())}; {key[0]} masks hold 0-{allowed}", path)
        return array

    def _write_mask(self, key: _MaskKey, item: _Mask) -> None:
        kind, cls = key
        content = hashlib.sha256(item.array.tobytes() + repr(item.array.shape).encode()).hexdigest()[:16]
        name = f"{kind}-{_slug(cls)}-{content}.nrrd" if cls is not None else f"{kind}-{content}.nrrd"
        path = self.directory / name
        if not self._holds(path, item.array):  # never rewrite a file the committed JSON may reference
            image = self.grid.image(item.array)
            write_with(path, lambda tmp: write_itk(image, tmp),
                       verify=lambda tmp: self._verify_written(tmp, item.array))
        item.file, item.sha256, item.dirty = name, _sha256_file(path), False

    def _verify_written(self, path: Path, array: np.ndarray) -> None:
        """A mask just written must read back exactly: ITK ignores a full disk and leaves a short file."""
        if not self._holds(path, array):
            raise OSError(28, "No space left on device (mask file incomplete after writing)", str(path))

    def _holds(self, path: Path, array: np.ndarray) -> bool:
        """True when ``path`` already holds exactly ``array`` on this grid (same content, same name)."""
        if not path.is_file():
            return False
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError:
            return False
        return (self.grid.matches(image) and image.GetPixelID() == sitk.sitkUInt8
                and np.array_equal(sitk.GetArrayViewFromImage(image), array))

    def _to_json(self) -> dict:
        def ref(item: _Mask) -> dict:
            return {"file": item.file, "sha256": item.sha256}

        regions = self._masks.get(("regions", None))
        return {
            "schema": SCHEMA_NAME,
            "schema_version": SCHEMA_VERSION,
            "case_id": self.case_id,
            "status": self._status,
            "annotator": self.annotator,
            "created": self.created,
            "modified": self.modified,
            "grid": self.grid.to_json(),
            "classes": self._classes,
            "provenance": self.provenance,
            "slices": {axis: {c: encode_runs(v) for c, v in per_class.items()}
                       for axis, per_class in self._slices.items() if per_class},
            "scribbles": {c: ref(self._masks[("scribbles", c)]) for c in self.known_classes("scribbles")},
            "regions": None if regions is None else ref(regions),
            "full": {c: ref(self._masks[("full", c)]) for c in self.known_classes("full")},
        }

    def _check_unchanged_on_disk(self) -> None:
        try:
            current = hashlib.sha256(self.path.read_bytes()).hexdigest()
        except FileNotFoundError:
            current = None
        if current != self._disk_sha:
            raise WeakSegError("weak labels changed on disk since they were opened (saved by another program?); "
                               "reopen them, or save with force=True to overwrite", self.path)

    def _remove_unreferenced(self) -> None:
        """Delete masks no JSON references any more, and temp files left by a killed writer."""
        referenced = {m.file for m in self._masks.values()}
        now = time.time()
        for path in self.directory.iterdir():
            try:
                if _MASK_FILE.match(path.name) and path.name not in referenced:
                    path.unlink()
                elif path.name.startswith(".") and now - path.stat().st_mtime > _STALE_TEMP_S and (
                        path.name.startswith((".scribbles-", ".regions-", ".full-", ".labels."))):
                    path.unlink()
            except OSError as exc:  # another process, permissions: harmless leftovers
                log.debug("could not remove %s: %s", path, exc)


# ---------------------------------------------------------------------- helpers


def _grid_of_case(case_dir: Path) -> Grid:
    """The reference grid of a case folder, from one image header (FLAIR first, as ``load_case``)."""
    from weakseg.io.case import find_case_files

    if not case_dir.is_dir():
        raise WeakSegError("case folder not found; give the grid explicitly to create weak labels elsewhere", case_dir)
    files = find_case_files(case_dir)
    for name in ("flair", "t1c", "t1", "t2", "seg"):
        if name in files:
            return Grid.from_file(files[name])
    raise WeakSegError("no image in the case folder to take the label grid from; pass grid=", case_dir)


def _check_value(value: int) -> int:
    if value not in (PRESENT, ABSENT, UNKNOWN):
        raise ValueError(f"slice label must be PRESENT (1), ABSENT (0) or UNKNOWN (-1), not {value!r}")
    return int(value)


def _string(data: dict, key: str, path: Path, *, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise WeakSegError(f"corrupt weak-label sidecar: {key!r} must be text", path)
    return value


def _mapping(data: dict, key: str, path: Path) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise WeakSegError(f"corrupt weak-label sidecar: {key!r} must be an object", path)
    return value


def _mask_ref(ref: object, path: Path, where: str) -> _Mask:
    if (not isinstance(ref, dict) or not isinstance(ref.get("file"), str) or not isinstance(ref.get("sha256"), str)
            or "/" in ref["file"] or "\\" in ref["file"] or not _MASK_FILE.match(ref["file"])):
        raise WeakSegError(f"corrupt weak-label sidecar: {where} must be {{\"file\": NAME.nrrd, \"sha256\": HEX}}", path)
    return _Mask(file=ref["file"], sha256=ref["sha256"])
