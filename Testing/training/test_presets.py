"""Presets fill only what the user left unset, follow the device, and `weakseg train` prints an estimate first."""

from __future__ import annotations

import json

import pytest

from weakseg.cli import main
from weakseg.errors import WeakSegError
from weakseg.training.presets import apply_preset, default_preset, preset_config


def test_preset_fills_only_missing_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKSEG_CACHE", str(tmp_path / "cache"))
    raw = {"dataset": "d", "out": "o", "iterations": 7, "method_options": {"base": 8}}
    cpu = apply_preset(raw, "cpu")
    assert cpu["iterations"] == 7 and cpu["method_options"]["base"] == 8  # the user's values win
    assert cpu["method_options"]["inplane_downsample"] == 2 and cpu["method_options"]["optimizer"] == "adamw"
    assert cpu["method_options"]["preset"] == "cpu" and cpu["cache_dir"] == str(tmp_path / "cache")
    paper = apply_preset({"dataset": "d", "out": "o"}, "paper")
    assert paper["method_options"]["base"] == 64 and paper["method_options"]["optimizer"] == "ngsgd"
    assert apply_preset({"dataset": "d", "out": "o"}, "gpu")["method_options"]["inplane_downsample"] == 1
    with pytest.raises(WeakSegError, match="unknown preset"):
        apply_preset(raw, "laptop")
    with pytest.raises(WeakSegError, match="no preset"):
        apply_preset({**raw, "method": "oar"}, "cpu")  # its defaults are the CPU setup; no named presets
    with pytest.raises(WeakSegError, match="method 'emredl' has no preset 'gpu'"):
        apply_preset({**raw, "method": "emredl"}, "gpu")


def test_default_preset_follows_the_device_and_a_config_file_is_complete(tmp_path):
    import torch

    assert default_preset("cpu") == "cpu"
    assert default_preset("auto") == ("gpu" if torch.cuda.is_available() else "cpu")
    config_file = tmp_path / "c.json"
    config_file.write_text(json.dumps({"dataset": "d", "out": "o", "method_options": {"base": 4}}))
    assert "preset" not in preset_config(str(config_file), None, None, "cpu").method_options
    explicit = preset_config(str(config_file), "cpu", None, "cpu").method_options
    assert explicit["preset"] == "cpu" and explicit["base"] == 4
    bare = preset_config(None, None, None, "cpu")
    assert bare.method_options["preset"] == "cpu" and bare.iterations == 2200


def test_cli_prints_the_estimate_before_training(tiny_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WEAKSEG_CACHE", str(tmp_path / "cache"))
    assert main(["train", "--dataset", str(tiny_dataset), "--out", str(tmp_path / "run"), "--preset", "cpu",
                 "--threads", "1", "--device", "cpu", "--iterations", "50", "--estimate-only"]) == 0
    printed = capsys.readouterr().out
    assert "preset       cpu" in printed
    line = next(l for l in printed.splitlines() if l.startswith("estimate"))
    assert "50 iterations x" in line and "1 thread" in line
    assert not (tmp_path / "run").exists()  # nothing trained
    assert any((tmp_path / "cache").iterdir())  # the estimate read the first case through the cache


def test_every_declared_preset_is_valid_for_its_method_and_gan_seeds_has_the_cv_budget():
    from weakseg.methods import method_module, methods
    from weakseg.methods.gan_seeds import CPU_BUDGET
    from weakseg.training.presets import method_presets

    for name in methods():
        module = method_module(name)
        for preset in method_presets(name).values():
            if hasattr(module, "build_method"):
                module.build_method(dict(preset.options))  # unknown or out-of-range options are refused here
    options = apply_preset({"dataset": "d", "out": "o", "method": "gan-seeds"}, "cpu")["method_options"]
    assert {k: options[k] for k in CPU_BUDGET} == CPU_BUDGET and options["seed_method"] == "gradcam"


def test_emredl_presets_are_the_reported_setting_and_the_papers():
    """A bare `weakseg train --method emredl` on a CPU trains the reported phantom setting, not paper 000's
    GPU-sized network; the report's own options are that same setting."""
    import sys
    from pathlib import Path

    from weakseg.methods.emredl import REPORTED, REPORTED_EM
    from weakseg.methods.emredl.config import EMReDLConfig

    bare = preset_config(None, None, "emredl", "cpu")
    assert bare.iterations == 400 and bare.method_options == {**REPORTED, **REPORTED_EM, "preset": "cpu"}
    assert EMReDLConfig.from_dict(bare.method_options).base == 16
    paper = EMReDLConfig.from_dict(apply_preset({"dataset": "d", "out": "o", "method": "emredl"}, "paper")["method_options"])
    assert (paper.base, paper.depth, paper.lr, paper.prior_lr, paper.prior_hidden) == (32, 4, 1e-4, 1e-4, None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from experiments.emredl_report import report_options

    assert report_options(1.0) == {**REPORTED, "lam": 1.0, **REPORTED_EM}
    assert "loss_normalisation" not in report_options(0.0)  # PCE: the EM term's setting does not apply

