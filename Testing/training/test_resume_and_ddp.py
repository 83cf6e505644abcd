"""A SIGKILL during training and --resume give the same weights; 2-process torchrun on gloo agrees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from dataclasses import replace

from weakseg.training import TrainConfig, read_events, train

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WEAKSEG_DEBUG": "1"}


def _train(config, *extra, **kw):
    return subprocess.Popen([sys.executable, "-m", "weakseg", "train", "--config", str(config), *extra],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def _weights(run):
    return load_file(str(run / "model" / "model.safetensors"))


def test_sigkill_then_resume_matches_uninterrupted_run(tiny_dataset, tmp_path, make_config):
    options = {"optimizer": "ngsgd", "batches_per_iteration": 2}  # the paper's optimiser, with momentum state
    straight = make_config(tmp_path / "a.json", tiny_dataset, tmp_path / "a", iterations=12, checkpoint_every=3,
                            validation_cases=[], method_options=options)
    killed = make_config(tmp_path / "b.json", tiny_dataset, tmp_path / "b", iterations=12, checkpoint_every=3,
                          validation_cases=[], method_options=options)
    process = _train(killed)
    events = tmp_path / "b" / "events.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if any(e["event"] == "checkpoint" and e["iteration"] >= 5 for e in read_events(events)):
            break
        if process.poll() is not None:
            pytest.fail(f"training ended before it could be killed: {process.stdout.read().decode()[-2000:]}")
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (tmp_path / "b" / "model").exists()
    # the resumed and the uninterrupted runs go in-process (no second interpreter start-up)
    train(replace(TrainConfig.read(killed), resume=True))
    train(TrainConfig.read(straight))
    starts = [e for e in read_events(events) if e["event"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[1]["iteration"] >= 6
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for name in a:
        assert (a[name] == b[name]).all(), name


def test_torchrun_two_processes_on_gloo(tiny_dataset, tmp_path, make_config):
    config = make_config(tmp_path / "c.json", tiny_dataset, tmp_path / "ddp", iterations=3, checkpoint_every=3,
                          validation_cases=[])
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "weakseg", "train", "--config", str(config), "--no-progress"]
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    events = read_events(tmp_path / "ddp" / "events.jsonl")
    assert events[0]["world_size"] == 2
    finished = events[-1]
    assert finished["event"] == "done" and len(finished["rank_digests"]) == 2
    assert finished["rank_digests"][0] == finished["rank_digests"][1]
    assert (tmp_path / "ddp" / "checkpoint.pt").is_file() and (tmp_path / "ddp" / "model" / "card.json").is_file()
    assert done.stdout.count("model        ") == 1  # only rank 0 reports
