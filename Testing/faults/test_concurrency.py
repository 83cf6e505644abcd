"""Concurrent writers of one case lose nothing (defect 2): through the CLI (``labels set-range``) and
through the store API from several processes, >= 500 saves in all, every save that reported success is
in the final sidecar; a writer that cannot get the lock in time says who holds it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from fault_helpers import ROOT, env, start_weakseg

from weakseg.labels import Grid, WeakLabelStore

GRID = Grid((8, 8, 40), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))

WRITER = r"""
import sys
from weakseg.errors import WeakSegError
from weakseg.labels import Grid, WeakLabelStore
grid = Grid((8, 8, 40), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
folder, writer, count, style = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
done, refused = [], 0
for i in range(count):
    name = f"{writer}_{i}"
    if style == "edit":  # read-modify-write under the lock: always succeeds
        with WeakLabelStore.edit(folder, sidecar=folder + "/weaklabels", grid=grid) as store:
            store.set_slice_range(name, "axial", i % 30, i % 30 + 5)
        done.append(name)
    else:  # open, change, save: compare-and-swap refuses a save based on a stale version
        store = WeakLabelStore.open(folder, sidecar=folder + "/weaklabels", grid=grid)
        store.set_slice_range(name, "axial", i % 30, i % 30 + 5)
        try:
            store.save()
            done.append(name)
        except WeakSegError as exc:
            assert "changed on disk" in str(exc), exc
            refused += 1
print(" ".join(done))
print("refused", refused)
"""


def _run_writers(folder, styles: list[str], count: int) -> tuple[set[str], int]:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(folder), f"w{k}", str(count), style],
                              env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k, style in enumerate(styles)]
    done, refused = set(), 0
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        lines = out.strip().splitlines()
        done.update(lines[0].split() if len(lines) > 1 else [])
        refused += int(lines[-1].split()[1])
    return done, refused


def test_500_concurrent_saves_through_the_store_api_lose_nothing(tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    done, refused = _run_writers(folder, ["edit", "edit", "save", "save"], 130)
    store = WeakLabelStore.open(folder, sidecar=folder / "weaklabels", grid=GRID)
    saved = set(store.classes)
    assert len(done) + refused == 4 * 130 >= 500
    assert done <= saved, f"{len(done - saved)} saves that succeeded are missing: lost updates"
    assert len([n for n in done if n.startswith(("w0_", "w1_"))]) == 260  # edit() never gives up
    for name in sorted(done)[:20]:
        first, last = store.slice_ranges(name, "axial")[0]
        assert last - first == 5


def test_parallel_cli_set_range_writers_lose_nothing(case_dir, tmp_path):
    import shutil

    case = tmp_path / case_dir.name
    shutil.copytree(case_dir, case)
    n_per_writer, writers = 4, 3
    procs = []
    for i in range(n_per_writer):
        for w in range(writers):
            procs.append(start_weakseg("labels", "set-range", case, str(i), str(i + 3), "--class", f"C{w}_{i}"))
        if len(procs) >= 6:  # a few at a time: start-up dominates, contention is what matters
            for proc in procs:
                proc.communicate(timeout=120)
                assert proc.returncode == 0, proc.stderr
            procs = []
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0, proc.stderr
    store = WeakLabelStore.open(case, create=False)
    expected = {f"C{w}_{i}" for w in range(writers) for i in range(n_per_writer)}
    assert expected <= set(store.classes), f"lost: {sorted(expected - set(store.classes))}"
    assert store.slice_ranges("C2_3", "axial") == [(3, 6)]


def test_a_writer_that_cannot_get_the_lock_says_who_holds_it(tmp_path):
    from weakseg.errors import WeakSegError
    from weakseg.labels.store import case_lock

    folder = tmp_path / "case"
    (folder / "weaklabels").mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from weakseg.labels.store import case_lock\n"
                               "with case_lock(sys.argv[1], owner='dr_who', case_id='case'):\n"
                               "    print('held', flush=True); time.sleep(30)\n", str(folder / "weaklabels")],
                              env=env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        store = WeakLabelStore.open(folder, grid=GRID)
        store.set_slice_range("WT", "axial", 1, 2)
        started = time.monotonic()
        with pytest.raises(WeakSegError, match=r"case .* is being edited by dr_who, process \d+"):
            store.save(timeout=0.3)
        assert time.monotonic() - started < 5
        assert not (folder / "weaklabels" / "labels.json").exists()
    finally:
        holder.kill()
        holder.wait()
    store.save(timeout=5)  # the holder died: its lock went with it
    assert WeakLabelStore.open(folder).slice_ranges("WT", "axial") == [(1, 2)]
    del case_lock
