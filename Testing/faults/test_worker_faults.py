"""The worker: bad job parameters are one-line bad-input errors (defect 13), model ids and prefixes cannot
escape their folders (defects 1, 7), and SIGTERM or the parent's death end it with its children (defect 12)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from fault_helpers import env, run_job, snapshot, worker

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and /proc")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _bad_input(code, events, stderr, *words):
    assert code == 2, (code, events, stderr[-1500:])
    error = events[-1]
    assert error["event"] == "error" and error["type"] == "bad-input", events
    assert "Traceback" not in stderr, stderr
    for word in words:
        assert word in error["message"], (word, error["message"])
    return error


@pytest.mark.parametrize("model_id", ["../victim", "/tmp/victim-abs"])
def test_train_job_with_a_hostile_model_id_touches_nothing(tmp_path, case_dir, model_id):  # defect 1
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    models = tmp_path / "models"
    config = {"method": "mixed", "dataset": str(case_dir.parent), "out": str(tmp_path / "run"), "iterations": 2,
              "model_id": model_id}
    code, events, stderr = worker("train", {"config": config}, tmp_path, WEAKSEG_MODELS=str(models))
    _bad_input(code, events, stderr, "model_id", "not a safe name")
    assert (victim / "precious.txt").read_text() == "keep me"
    assert not (tmp_path / "run").exists() and not models.exists()


@pytest.mark.parametrize("kind, parameters, words", [
    ("segment", {"out": "o", "case": "c", "batch_size": "lots"}, ["batch_size", "must be an integer"]),
    ("segment", {"out": "o", "case": {"path": "c"}}, ["'case'", "must be text"]),
    ("segment", {"out": "o", "sequences": {"x": "f.nii.gz"}}, ["sequences", "'x'"]),
    ("segment", {"out": "o", "case": "c", "prefix": "../../X"}, ["prefix", "not a safe name"]),  # defect 7
    ("segment", {"out": "o", "case": "c", "threads": 0}, ["threads", "between 1 and"]),
    ("train", {"config": {"iterations": "many"}}, ["iterations", "must be an integer"]),
    ("train", {"config": ["not", "an", "object"]}, ["config", "must be an object"]),
    ("export-rtstruct", {"labels": "l", "reference_dir": "r", "out": "o", "names": {"x": {"name": "a"}}},
     ["names", "'x'"]),
    ("selftest", {"steps": "3"}, ["steps", "must be an integer"]),
    ("info", {"case": 5}, ["case", "must be text"]),
])
def test_badly_typed_job_parameters_are_bad_input(tmp_path, kind, parameters, words):  # defect 13
    code, events, stderr = worker(kind, parameters, tmp_path)
    error = _bad_input(code, events, stderr, *words)
    assert error["path"] and error["path"].endswith(".json")


def test_a_job_path_that_is_a_folder_is_bad_input(tmp_path):
    code, events, stderr = run_job(tmp_path)
    _bad_input(code, events, stderr, "is a folder")


def test_segment_job_into_its_own_case_folder_is_refused(tmp_path, case_dir, model_dir):  # defect 6 via the worker
    before = snapshot(case_dir)
    code, events, stderr = worker("segment", {"case": str(case_dir), "model": str(model_dir), "out": str(case_dir),
                                              "device": "cpu", "threads": 1}, tmp_path)
    _bad_input(code, events, stderr, "case folder")
    assert snapshot(case_dir) == before


def _start_selftest(tmp_path, **popen) -> tuple[subprocess.Popen, int]:
    job = tmp_path / "selftest.json"
    job.write_text(json.dumps({"kind": "selftest", "parameters": {"steps": 100000, "step_seconds": 0.05,
                                                                  "child": True, "import_packages": False}}))
    proc = subprocess.Popen([sys.executable, "-m", "weakseg.worker", str(job)], env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, **popen)
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "progress" and "child_pid" in event["metrics"]:
            return proc, event["metrics"]["child_pid"]
    raise AssertionError("no child reported")


def _gone_within(pids, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.02)
    return False


def test_sigterm_ends_the_worker_and_its_children(tmp_path):  # defect 12
    proc, child = _start_selftest(tmp_path)  # an ordinary child of ours: no new session, no client
    try:
        os.kill(proc.pid, signal.SIGTERM)
        assert _gone_within([proc.pid, child], 3.0), "the worker or its child survived SIGTERM"
        events = [json.loads(line) for line in proc.stdout.read().splitlines() if line.startswith("{")]
        assert events[-1]["event"] == "error" and events[-1]["type"] == "cancelled"
        assert proc.wait(2) == 130
    finally:
        for pid in (proc.pid, child):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


PARENT = r"""
import sys, time
from weakseg.worker.client import WorkerClient
# slow steps: the worker is silent between events, as during a long computation, so a dead reader cannot end it
client = WorkerClient("selftest", {"steps": 3, "step_seconds": 2.5, "child": True, "import_packages": False})
client.start()
while True:
    for event in client.poll():
        if event["event"] == "progress" and "child_pid" in event["metrics"]:
            print(client.pid, event["metrics"]["child_pid"], flush=True)
            time.sleep(3600)
    time.sleep(0.02)
"""


def test_worker_exits_with_its_children_when_its_parent_dies(tmp_path):  # defect 12
    parent = subprocess.Popen([sys.executable, "-c", PARENT], env=env(), stdout=subprocess.PIPE, text=True)
    worker_pid, child = map(int, parent.stdout.readline().split())
    try:
        parent.kill()  # the panel crashed: no cancel, no cleanup
        parent.wait()
        assert _gone_within([worker_pid, child], 2.0), "an orphaned worker (or its child) kept running"
    finally:
        for pid in (worker_pid, child):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
