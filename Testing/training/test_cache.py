"""Preprocessed cases are cached once, memory-mapped on reuse, and never read stale."""

from __future__ import annotations

import os
import shutil

import numpy as np

from weakseg.training.cache import entry_path
from weakseg.training.data import DataConfig, load_training_case


def test_second_load_is_memory_mapped_and_identical(tiny_dataset, tmp_path):
    config = DataConfig(normalisation="zscore")
    first = load_training_case(tiny_dataset / "Phantom_0000", config, keep_full=True, cache_dir=tmp_path)
    entries = list(tmp_path.iterdir())
    assert len(entries) == 1 and (entries[0] / "meta.json").is_file() and (entries[0] / "stack.npy").is_file()
    again = load_training_case(tiny_dataset / "Phantom_0000", config, keep_full=True, cache_dir=tmp_path)
    assert isinstance(again.stack, np.memmap) and not again.stack.flags.writeable
    for name in ("stack", "classes", "classes_full", "slice_labels", "usable"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert (again.case_id, again.z_offset, again.grid_depth, again.full) == (first.case_id, first.z_offset,
                                                                              first.grid_depth, first.full)
    assert list(tmp_path.iterdir()) == entries  # reused, not rewritten


def test_other_settings_or_changed_files_get_their_own_entry(tiny_dataset, tmp_path):
    case = tmp_path / "case"
    shutil.copytree(tiny_dataset / "Phantom_0001", case)
    cache = tmp_path / "cache"
    median, zscore = DataConfig(normalisation="median"), DataConfig(normalisation="zscore")
    load_training_case(case, median, cache_dir=cache)
    load_training_case(case, zscore, cache_dir=cache)
    assert len(list(cache.iterdir())) == 2
    before = entry_path(cache, case, median.key())
    flair = next(case.glob("*_flair.nii.gz"))
    os.utime(flair, (flair.stat().st_atime, flair.stat().st_mtime + 10))
    assert entry_path(cache, case, median.key()) != before
    load_training_case(case, median, cache_dir=cache)
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 3
