"""A cache of preprocessed training cases: one folder of .npy arrays per case, memory-mapped on read.

Reading and preprocessing a BraTS case (4 NIfTI volumes, crop, normalise, shrink) takes
seconds; a cross-validation loads the same 22 cases dozens of times. The cache stores the
arrays once and maps them read-only (``np.load(mmap_mode='r')``), so several training
processes share the pages and nothing is re-read per iteration. An entry is keyed by the
case folder, its files' sizes and modification times, the preprocessing settings and
``CACHE_FORMAT``, so a changed input or setting never reads a stale entry. An entry is
written into a temporary folder and renamed into place: a killed writer leaves no torn entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np

CACHE_FORMAT = 3
"""Bumped when the cached arrays change meaning, so stale caches are never read."""
META = "meta.json"


def default_cache_dir() -> Path:
    """$WEAKSEG_CACHE, else $XDG_CACHE_HOME/weakseg/training, else ~/.cache/weakseg/training."""
    if os.environ.get("WEAKSEG_CACHE"):
        return Path(os.environ["WEAKSEG_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "weakseg" / "training"


def entry_path(cache_dir: str | Path, folder: str | Path, settings_key: str) -> Path:
    """The cache entry of one case folder under given preprocessing settings."""
    folder = Path(folder)
    stat = [(p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in sorted(folder.iterdir()) if p.is_file()]
    digest = hashlib.sha256(json.dumps([CACHE_FORMAT, str(folder.resolve()), stat, settings_key]).encode()).hexdigest()[:20]
    return Path(cache_dir) / f"{folder.name}-{digest}"


def read_entry(path: Path) -> tuple[dict, dict[str, np.ndarray]] | None:
    """(metadata, memory-mapped arrays) of a complete entry, or None when there is none."""
    meta_file = path / META
    if not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text())
    arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in meta["arrays"]}
    return meta, arrays


def write_entry(path: Path, meta: dict, arrays: Mapping[str, np.ndarray | None]) -> None:
    """Write the arrays (None ones are skipped) and metadata, then rename the folder into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        names = []
        for name, array in arrays.items():
            if array is not None:
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
                names.append(name)
        (tmp / META).write_text(json.dumps({**meta, "arrays": names, "format": CACHE_FORMAT}))
        try:
            os.replace(tmp, path)
        except OSError:  # another process wrote the same entry first: keep theirs
            if not (path / META).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
