"""Cancel ends the worker and every process it started within 2 s."""

from __future__ import annotations

import os
import signal
import time

from worker_helpers import alive

from weakseg.worker.client import WorkerClient


def _wait_for(client: WorkerClient, predicate, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in client.poll():
            if predicate(event):
                return event
        assert client.running, client.outcome().message
        time.sleep(0.02)
    raise AssertionError("event not seen in time")


def test_cancel_kills_worker_and_its_child_within_2_s(worker_env):
    client = WorkerClient("selftest", {"steps": 100000, "step_seconds": 0.05, "child": True, "import_packages": False},
                          env=worker_env).start()
    event = _wait_for(client, lambda e: e["event"] == "progress" and "child_pid" in e["metrics"])
    child = event["metrics"]["child_pid"]
    assert alive(client.pid) and alive(child)
    started = time.monotonic()
    outcome = client.cancel()
    deadline = started + 2.0
    while (alive(client.pid) or alive(child)) and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    assert not alive(client.pid) and not alive(child), "worker or its child survived the cancel"
    assert elapsed < 2.0, f"cancel took {elapsed:.2f} s"
    assert outcome.cancelled and outcome.message == "Cancelled."


def test_cancel_during_inference_ends_the_worker_within_2_s(tiny_model, small_case, tmp_path, worker_env):
    """The real segment job, cancelled mid-prediction.

    Inference on a tiny model is fast, so the worker is frozen (SIGSTOP) as soon as it reports
    the start of prediction: the cancel then certainly lands mid-inference, on a process that
    cannot even react to SIGTERM, which is the hardest case for cancelling.
    """
    client = WorkerClient("segment", {"case": str(small_case), "model": tiny_model.result["model_id"],
                                      "out": str(tmp_path / "out"), "device": "cpu", "batch_size": 1, "threads": 1},
                          env=worker_env).start()
    event = _wait_for(client, lambda e: e["event"] == "progress" and e["stage"] == "predict")
    os.kill(client.pid, signal.SIGSTOP)
    assert event["done"] < event["total"]
    started = time.monotonic()
    outcome = client.cancel()
    while alive(client.pid) and time.monotonic() - started < 2.0:
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    assert not alive(client.pid)
    assert elapsed < 2.0, f"cancel took {elapsed:.2f} s"
    assert outcome.cancelled and outcome.result is None
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir()), "a cancelled job left outputs"
