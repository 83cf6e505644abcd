"""SIGKILL/SIGTERM at random points of segment and train: no partial file under a final name, the previous
result set stays whole (or the new one is), inputs untouched, and the next run cleans up (defect 9)."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest
from fault_helpers import assert_no_partial, snapshot, start_weakseg, weakseg

from weakseg.inference.outputs import OPTIONAL_KINDS, OUTPUT_SUFFIXES

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _kill_after(proc, delay: float, sig: int) -> bool:
    """Send ``sig`` after ``delay`` s; True if the process was still running then."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    return True


def test_segment_killed_at_random_points_never_leaves_a_partial_or_mixed_set(case_dir, model_dir, tmp_path):
    out = tmp_path / "out"
    args = ("segment", case_dir, "--model", model_dir, "--out", out, "--device", "cpu", "--threads", "1")
    started = time.monotonic()
    assert weakseg(*args).returncode == 0
    duration = time.monotonic() - started  # kills land inside a run however fast this machine runs one
    expected = {p.name for p in out.iterdir() if not p.name.startswith(".")}  # the whole set of a finished run
    required = {f"{case_dir.name}{suffix}" for kind, suffix in OUTPUT_SUFFIXES.items() if kind not in OPTIONAL_KINDS}
    assert required <= expected
    inputs = snapshot(case_dir)
    rng = random.Random(9)
    killed = 0
    for attempt in range(4):
        proc = start_weakseg(*args, "--tta")
        sig = signal.SIGKILL if attempt % 2 == 0 else signal.SIGTERM
        killed += _kill_after(proc, rng.uniform(0.3, 0.9) * duration, sig)  # TTA on: a little longer than that run
        finals = {p.name for p in out.iterdir() if not p.name.startswith(".")}
        assert finals == expected, f"attempt {attempt}: {sorted(finals ^ expected)}"
        assert_no_partial(out)
        provenance = json.loads((out / f"{case_dir.name}_provenance.json").read_text())
        assert provenance["case_id"] == case_dir.name
    assert killed >= 2, "the kills all came too late to test anything"
    assert weakseg(*args).returncode == 0  # the next run recovers: no staging folder left behind
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    assert snapshot(case_dir) == inputs


def test_training_killed_at_random_points_leaves_no_partial_model(case_dir, tmp_path):
    import shutil

    from weakseg.models import load_model

    dataset = tmp_path / "dataset"
    for name in ("A_0001", "B_0002"):
        shutil.copytree(case_dir, dataset / name)
    options = json.dumps({"base": 4, "depth": 2, "branch_conv": 4, "branch_widths": [8, 8], "branch_fc6": 8,
                          "optimizer": "adamw", "lr": 0.01, "k": 4, "m": 2, "n": 4})
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"method": "mixed", "dataset": str(dataset), "iterations": 30, "seed": 3,
                                  "checkpoint_every": 3, "log_every": 1, "threads": 1, "device": "cpu",
                                  "progress_bar": False, "method_options": json.loads(options)}))
    rng = random.Random(4)
    before = snapshot(dataset)
    for attempt in range(2):
        run = tmp_path / f"run{attempt}"
        proc = start_weakseg("train", "--config", config, "--out", run, "--no-progress")
        _kill_after(proc, rng.uniform(2.0, 6.0), signal.SIGKILL)
        if run.exists():
            assert_no_partial(run)
            assert not any(p.name.startswith("model") and p.name != "model" for p in run.iterdir())
            if (run / "model").exists():
                load_model(run / "model")  # whole, digest and weights verified
    assert snapshot(dataset) == before
