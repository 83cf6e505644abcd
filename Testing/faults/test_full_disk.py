"""A full disk (a small tmpfs) never leaves a short file under a final name, never a mixed result set,
and never damages the previous outputs or weak labels (defects 3, 9). Skipped where tmpfs cannot be mounted."""

from __future__ import annotations

import json
import shutil

import pytest
from fault_helpers import assert_no_partial, assert_one_line_error, cli, fill, snapshot, tiny_disk, weakseg

from weakseg.io.output_set import STAGING_PREFIX


@pytest.fixture()
def disk(tmp_path):
    with tiny_disk(tmp_path / "disk", "256k") as mount:
        if mount is None:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        yield mount


def _segment(capsys, case_dir, model_dir, out, *extra):
    return cli(capsys, "segment", case_dir, "--model", model_dir, "--out", out, "--device", "cpu", "--threads", "1",
               *extra)


@pytest.mark.parametrize("leave", [0, 3000, 9000])
def test_full_disk_during_segment_leaves_no_file(capsys, case_dir, model_dir, disk, leave):  # defect 3
    out = disk / "out"
    out.mkdir()
    fill(disk, leave)
    inputs = snapshot(case_dir)
    code, err = _segment(capsys, case_dir, model_dir, out)
    assert code == 2 and "no space left" in err and str(disk) in err, err
    assert [p.name for p in out.iterdir()] == [], "a file was left after the disk filled up"
    assert snapshot(case_dir) == inputs


def test_failed_rerun_keeps_the_previous_result_set_whole(capsys, case_dir, model_dir, disk):  # defect 9
    out = disk / "out"
    assert _segment(capsys, case_dir, model_dir, out)[0] == 0
    first = snapshot(out)
    fill(disk, 4000)
    code, err = _segment(capsys, case_dir, model_dir, out, "--tta")
    assert code == 2, err
    assert snapshot(out) == first, "the failed re-run changed the previous result set"
    assert json.loads((out / "Phantom_0005_provenance.json").read_text())["tta"] is False
    (disk / "filler.bin").unlink()
    assert _segment(capsys, case_dir, model_dir, out, "--tta")[0] == 0  # with space again: the new set, whole
    assert json.loads((out / "Phantom_0005_provenance.json").read_text())["tta"] is True
    assert sorted(snapshot(out)) == sorted(first)
    assert_no_partial(out)


def test_full_disk_during_a_weak_label_save_keeps_the_previous_labels(case_dir, disk):
    case = disk / case_dir.name
    case.mkdir()
    for name in ("flair", "t1"):
        shutil.copy(case_dir / f"{case_dir.name}_{name}.nii.gz", case)
    assert weakseg("labels", "set-range", case, "2", "5", "--class", "WT").returncode == 0
    before = snapshot(case / "weaklabels")
    import numpy as np

    from weakseg.labels import WeakLabelStore

    store = WeakLabelStore.open(case)
    rng = np.random.default_rng(0)
    store.set_scribble_labels("WT", rng.integers(-1, 2, size=store.grid.shape, dtype=np.int8))  # incompressible
    fill(disk, 2000)
    from weakseg.errors import WeakSegError

    with pytest.raises(WeakSegError, match="no space left"):
        store.save()
    after = {k: v for k, v in snapshot(case / "weaklabels").items() if not k.startswith(".")}
    assert after == {k: v for k, v in before.items() if not k.startswith(".")}
    reopened = WeakLabelStore.open(case)
    reopened.verify()
    assert reopened.slice_ranges("WT", "axial") == [(2, 5)]


def test_full_disk_through_the_real_interpreter_is_one_line(case_dir, model_dir, disk):
    fill(disk, 0)
    proc = weakseg("segment", case_dir, "--model", model_dir, "--out", disk / "out", "--device", "cpu")
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, "no space left", str(disk / "out"))
    assert STAGING_PREFIX not in proc.stderr, "the message names a temporary file, not the output"
