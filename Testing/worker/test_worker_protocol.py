"""The worker protocol end to end, in real subprocesses: start, progress, result, errors."""

from __future__ import annotations

import json
import subprocess
import sys

from weakseg.worker.client import WorkerClient


def test_selftest_streams_start_progress_result(worker_env):
    outcome = WorkerClient("selftest", {"steps": 3, "import_packages": False}, env=worker_env).start().wait(timeout=60)
    assert outcome.ok and outcome.returncode == 0
    kinds = [e["event"] for e in outcome.events]
    assert kinds == ["start", "progress", "progress", "progress", "result"]
    progress = [e for e in outcome.events if e["event"] == "progress"]
    assert [(e["done"], e["total"]) for e in progress] == [(1, 3), (2, 3), (3, 3)]
    assert progress[-1]["fraction"] == 1.0 and progress[-1]["eta_s"] == 0.0
    assert outcome.result["python"] == sys.version.split()[0]


NOISY_JOB = """
import os, sys
def run(parameters, events, job):
    print("print() from a library")
    sys.stdout.write("sys.stdout.write from a library\\n")
    os.write(1, b"C-level write to fd 1\\n")
    events.progress("noise", fraction=1.0)
    return {"ok": True}
"""


def test_stdout_carries_only_json_lines_even_when_the_job_prints(tmp_path):
    """Libraries that print (Python or C level) cannot corrupt the event stream: fd 1 is re-pointed to stderr."""
    (tmp_path / "noisy_job.py").write_text(NOISY_JOB)
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"kind": "noisy", "parameters": {}}))
    code = ("import sys; sys.path.insert(0, sys.argv[2]); from weakseg.worker import job, __main__ as m; "
            "job.JOBS['noisy'] = 'noisy_job'; sys.exit(m.main([sys.argv[1]]))")
    done = subprocess.run([sys.executable, "-c", code, str(job), str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["event"] for line in done.stdout.splitlines()] == ["start", "progress", "result"]
    for noise in ("print() from a library", "sys.stdout.write from a library", "C-level write to fd 1"):
        assert noise in done.stderr


def _run_job(tmp_path, job: dict):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return subprocess.run([sys.executable, "-m", "weakseg.worker", str(path)], capture_output=True, text=True, timeout=60)


def test_unknown_job_kind_is_one_error_line_and_exit_2(tmp_path):
    done = _run_job(tmp_path, {"kind": "bake", "parameters": {}})
    assert done.returncode == 2
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(events) == 1 and events[0]["event"] == "error" and events[0]["type"] == "bad-input"
    assert "unknown job kind 'bake'" in events[0]["message"] and "job.json" in events[0]["message"]


def test_missing_case_names_the_path(tmp_path, worker_env):
    missing = tmp_path / "no-such-case"
    outcome = WorkerClient("info", {"case": str(missing)}, env=worker_env).start().wait(timeout=60)
    assert outcome.returncode == 2 and not outcome.ok
    assert outcome.error["path"] == str(missing)
    assert outcome.message == f"{missing}: case folder not found"
    assert "\n" not in outcome.message


def test_unknown_parameter_is_refused_by_name(tmp_path, worker_env):
    outcome = WorkerClient("selftest", {"stpes": 3}, env=worker_env).start().wait(timeout=60)
    assert outcome.returncode == 2
    assert "unknown parameter(s) stpes" in outcome.message


def test_corrupt_job_file_is_reported(tmp_path):
    path = tmp_path / "job.json"
    path.write_text("{not json")
    done = subprocess.run([sys.executable, "-m", "weakseg.worker", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    event = json.loads(done.stdout)
    assert event["type"] == "bad-input" and "not valid JSON" in event["message"]


def test_info_job_describes_a_case(tiny_dataset, worker_env):
    case = sorted(tiny_dataset.iterdir())[0]
    outcome = WorkerClient("info", {"case": str(case)}, env=worker_env).start().wait(timeout=60)
    assert outcome.ok, outcome.message
    assert outcome.result["case"] == case.name
    assert sorted(outcome.result["sequences"]) == ["flair", "t1", "t1c", "t2"]
    assert outcome.result["size"] == [48, 48, 32]
