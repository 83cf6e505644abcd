"""A writer killed at random moments (SIGKILL, no cleanup) never leaves a half-written sidecar.

A child process saves a store over and over, each save with content that follows from its
iteration number. We kill it at random times, reopen the sidecar, and check that it loads,
that every mask matches its hash and grid, and that the masks belong to the same save as the
JSON (the content must equal what that iteration wrote) — i.e. the previous or the new sidecar,
whole, never a mix.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from weakseg.labels import ABSENT, PRESENT, Grid, WeakLabelStore

GRID = Grid((128, 128, 48), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))

WRITER = r"""
import sys
import numpy as np
from weakseg.labels import Grid, WeakLabelStore
from content import for_iteration
folder, first = sys.argv[1], int(sys.argv[2])
grid = Grid((128, 128, 48), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
i = first
while True:
    store = WeakLabelStore.open(folder, sidecar=folder + "/weaklabels", grid=grid)
    scribbles, regions, (a, b) = for_iteration(i, grid.shape)
    store.set_scribble_labels("WT", scribbles)
    store.set_regions(regions)
    store.set_slice_range("WT", "axial", a, b)
    store.annotator = str(i)
    store.save()
    print(i, flush=True)
    i += 1
"""

CONTENT = r"""
import numpy as np
def for_iteration(i, shape):
    rng = np.random.default_rng(i)
    scribbles = rng.integers(-1, 2, size=shape, dtype=np.int8)  # noise: compresses poorly, so writes take time
    regions = (scribbles + 1).astype(np.uint8)
    regions[::2] += 1
    a = int(rng.integers(0, shape[0] - 1))
    return scribbles, regions, (a, int(rng.integers(a, shape[0])))
"""


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise AssertionError("writer produced no save in time")
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"writer died: {proc.stderr.read()}")
    return line.strip()


def _check_whole(folder: Path) -> int:
    """Open the sidecar, verify every mask, and check all of it comes from one iteration; return that iteration."""
    namespace: dict = {}
    exec(CONTENT, namespace)  # the very code the writer runs
    for_iteration = namespace["for_iteration"]
    store = WeakLabelStore.open(folder, sidecar=folder / "weaklabels", create=False)
    store.verify()
    i = int(store.annotator)
    scribbles, regions, (a, b) = for_iteration(i, GRID.shape)
    np.testing.assert_array_equal(store.scribbles("WT"), scribbles)
    np.testing.assert_array_equal(store.regions(), regions)
    expected = np.full(GRID.shape[0], ABSENT)
    expected[a:b + 1] = PRESENT
    np.testing.assert_array_equal(store.slice_labels("WT", "axial"), expected)
    return i


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_killed_writer_leaves_previous_or_new_sidecar_whole(tmp_path):
    (tmp_path / "content.py").write_text(CONTENT)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    rng = np.random.default_rng(12345)
    mid_write_kills = 0
    temps_before: set[str] = set()
    for run in range(10):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(run * 1000)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        try:
            last_saved = int(_read_line(proc, timeout=60))  # at least one complete save in this run
            time.sleep(float(rng.uniform(0.0, 0.3)))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        names = [p.name for p in (tmp_path / "weaklabels").iterdir()]
        temps = {n for n in names if n.startswith(".")}
        masks = [n for n in names if n.endswith(".nrrd") and not n.startswith(".")]
        i = _check_whole(tmp_path)
        assert i >= last_saved  # the last completed save (or a later one) is what we find
        # new masks beside the referenced two, or a new temp file: the kill landed inside a save
        mid_write_kills += int(len(masks) > 2 or bool(temps - temps_before))
        temps_before = temps
    assert mid_write_kills >= 1, "no kill landed inside a save; the test did not test anything"
    # a fresh save after all the crashes works and tidies the unreferenced masks
    store = WeakLabelStore.open(tmp_path, sidecar=tmp_path / "weaklabels", create=False)
    store.status = "complete"
    store.save()
    names = sorted(p.name for p in (tmp_path / "weaklabels").iterdir() if not p.name.startswith("."))
    assert len(names) == 3  # labels.json + one scribble mask + one region mask
