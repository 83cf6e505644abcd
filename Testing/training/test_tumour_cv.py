"""The tumour CV driver: stratified deterministic folds, units that run, skip when done and resume."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from experiments import tumour_cv  # noqa: E402

from weakseg.training import read_events  # noqa: E402


def test_folds_are_stratified_deterministic_and_a_partition():
    lgg = ("L_a", "L_b")
    cases = sorted([f"H_{i:02d}" for i in range(20)] + list(lgg))
    folds = tumour_cv.make_folds(cases, lgg, folds=5, seed=2018)
    assert folds == tumour_cv.make_folds(cases, lgg, folds=5, seed=2018)
    assert folds != tumour_cv.make_folds(cases, lgg, folds=5, seed=1)
    assert sorted(c for f in folds for c in f) == cases
    assert sorted(len(f) for f in folds) == [4, 4, 4, 5, 5]
    assert all(sum(c.startswith("H") for c in f) == 4 for f in folds)  # 20 HGG spread evenly
    assert [sum(c in lgg for c in f) for f in folds].count(1) == 2  # the two LGG cases in different folds


def test_the_shipped_default_is_the_cross_validated_recipe_2d_and_every_configuration_is_valid():
    shipped = json.loads((ROOT / "weakseg/models/default-tumour/train-config.json").read_text())["method_options"]
    assert tumour_cv.CONFIGS["recipe-2d"].options() == shipped
    from weakseg.methods import method_module
    from weakseg.methods.recipe import RecipeConfig

    for spec in tumour_cv.CONFIGS.values():
        if spec.method == "peer-segresnet":  # an experiment, not a weakseg method: its budget comes from a unit
            assert spec.budget_of in tumour_cv.CONFIGS and spec.predictor in tumour_cv.PREDICTORS
            continue
        method_module(spec.method).build_method(spec.options())  # every configuration is valid for its method
    from weakseg.training.augment import AugmentConfig

    assert RecipeConfig.from_dict(tumour_cv.RECIPE_V1).to_dict() == tumour_cv.RECIPE_V1  # spelled out in full
    assert set(tumour_cv.RECIPE_V1["augmentation"]) == set(AugmentConfig().to_dict())


def _run(tiny_dataset, out, cache, *extra):
    return tumour_cv.main(["run", "--out", str(out), "--data", str(tiny_dataset), "--cache", str(cache), "--n-folds", "3",
                           "--iterations", "2", "--configs", "default-2d", "--working-tree", *extra])


def test_units_run_are_skipped_when_done_and_resume_from_their_checkpoint(tiny_dataset, tmp_path, capsys):
    out, cache = tmp_path / "cv", tmp_path / "cache"
    assert _run(tiny_dataset, out, cache, "--folds", "0") == 0
    unit = tumour_cv.Unit(tumour_cv.CONFIGS["default-2d"], 0, out)
    result = json.loads(unit.eval_file.read_text())
    plan = json.loads((out / "plan.json").read_text())
    assert result["test"] == plan["folds"][0] and set(result["per_case"]) == set(plan["folds"][0])
    variants = result["per_case"][plan["folds"][0][0]]
    assert {"tta0_cc0.1_et0", "tta1_cc0_et500"} <= set(variants)
    assert set(variants["tta0_cc0.1_et0"]) == {"WT", "TC", "ET", "ET_voxels"}
    config = json.loads((unit.folder / "train-config.json").read_text())
    assert not set(config["train_cases"]) & set(plan["folds"][0]) and config["threads"] == 1

    capsys.readouterr()
    assert _run(tiny_dataset, out, cache, "--folds", "0") == 0  # done: nothing is trained again
    assert "started" not in capsys.readouterr().out.split("runner pid", 1)[1].split("\n", 1)[1]

    # an interrupted unit: its checkpoint survives, its model and evaluation do not
    unit.eval_file.unlink()
    shutil.rmtree(unit.model_dir)
    assert _run(tiny_dataset, out, cache, "--folds", "0") == 0
    starts = [e for e in read_events(unit.run_dir / "events.jsonl") if e["event"] == "start"]
    assert [s["resumed"] for s in starts] == [False, True] and unit.eval_file.is_file()

    assert tumour_cv.main(["status", "--out", str(out)]) == 0
    status = capsys.readouterr().out
    assert "default-2d     fold 0  done" in status and "fold 1  pending" in status

    results = tmp_path / "results"
    assert tumour_cv.main(["report", "--out", str(out), "--results", str(results)]) == 0
    record = json.loads((results / "tumour-accuracy.json").read_text())
    assert record["units_done"] == 1 and record["units_total"] == 3 * len(tumour_cv.CONFIGS)
    scores = record["configs"]["default-2d"]["per_case"]
    assert set(scores) == set(plan["folds"][0])
    assert all(scores[c]["WT"] == variants_of[c]["tta0_cc0.1_et0"]["WT"] for c in scores
               for variants_of in [result["per_case"]])  # the headline variant, nothing re-computed
    text = (results / "tumour-accuracy.md").read_text()
    assert "**Partial result.**" in text and "| default-2d | 1/3 | 1 |" in text
    assert (results / "tumour-accuracy-dice.png").read_bytes()[:4] == b"\x89PNG"


def test_a_unit_held_by_another_runner_is_skipped_and_a_changed_split_refused(tiny_dataset, tmp_path, capsys):
    out, cache = tmp_path / "cv", tmp_path / "cache"
    tumour_cv.plan(out, tiny_dataset, 3, 2)
    unit = tumour_cv.Unit(tumour_cv.CONFIGS["default-2d"], 0, out)
    held = tumour_cv.unit_lock(unit)
    assert held is not None and tumour_cv.unit_lock(unit) is None
    with held:
        assert _run(tiny_dataset, out, cache, "--folds", "0") == 0
        assert tumour_cv.main(["status", "--out", str(out), "--configs", "default-2d"]) == 0
    text = capsys.readouterr().out
    assert "default-2d fold 0: skipped, another runner is on it" in text and "fold 0: train started" not in text
    assert "default-2d     fold 0  pending [a runner is on it]" in text and not unit.trained()
    with pytest.raises(SystemExit, match="differ"):
        tumour_cv.plan(out, tiny_dataset, 2, 2)


def _fold0_args(tiny_dataset, out, cache) -> list[str]:
    """`run` on fold 0 of a 3-fold smoke CV, two iterations; the configurations follow."""
    return ["run", "--out", str(out), "--data", str(tiny_dataset), "--cache", str(cache), "--n-folds", "3",
            "--iterations", "2", "--working-tree", "--folds", "0", "--configs"]


def test_the_equal_budget_peer_waits_for_its_reference_then_trains_for_its_time(tiny_dataset, tmp_path, capsys):
    pytest.importorskip("monai")
    out, cache = tmp_path / "cv", tmp_path / "cache"
    args = _fold0_args(tiny_dataset, out, cache)
    assert tumour_cv.main(args + ["segresnet-peer"]) == 0
    assert "skipped until recipe-2d fold 0 is done" in capsys.readouterr().out
    assert tumour_cv.main(args + ["recipe-2d", "segresnet-peer"]) == 0
    peer = tumour_cv.Unit(tumour_cv.CONFIGS["segresnet-peer"], 0, out)
    config = json.loads((peer.folder / "train-config.json").read_text())
    assert config["method_options"] == {"budget_seconds": 2.0, "patch": 32, "init_filters": 8}  # smoke size
    card = json.loads((peer.model_dir / "card.json").read_text())
    assert card["training"]["seconds"] >= 2.0 and card["training"]["iterations"] >= 1
    result = json.loads(peer.eval_file.read_text())
    scores = result["per_case"][result["test"][0]]["tta1_cc0.1_et0"]
    assert set(scores) == {"WT", "TC", "ET", "ET_voxels"} and all(0 <= scores[r] <= 1 for r in ("WT", "TC", "ET"))




def test_triplanar_2d_waits_for_the_2d3d_model_then_scores_its_2d_networks_without_training(tiny_dataset, tmp_path,
                                                                                            capsys):
    out, cache = tmp_path / "cv", tmp_path / "cache"
    args = _fold0_args(tiny_dataset, out, cache)
    assert tumour_cv.main(args + ["triplanar-2d"]) == 0
    assert "triplanar-2d fold 0: skipped until 2d3d fold 0 is trained" in capsys.readouterr().out
    assert tumour_cv.main(args + ["2d3d", "triplanar-2d"]) == 0
    text = capsys.readouterr().out
    assert "triplanar-2d fold 0: train started" not in text and "triplanar-2d fold 0: evaluate exit 0" in text
    twin = tumour_cv.Unit(tumour_cv.CONFIGS["2d3d"], 0, out)
    unit = tumour_cv.Unit(tumour_cv.CONFIGS["triplanar-2d"], 0, out)
    assert unit.model_dir == twin.model_dir and not (unit.folder / "run").exists()
    assert not (unit.folder / "train-config.json").exists()
    both = [json.loads(u.eval_file.read_text()) for u in (twin, unit)]
    case = both[0]["test"][0]
    key = "tta1_cc0_et0"
    assert all(0 <= b["per_case"][case][key][r] <= 1 for b in both for r in ("WT", "TC", "ET"))
    assert both[0]["per_case"] != both[1]["per_case"]  # the 2D networks alone are not the 3D network's output


def test_status_shows_the_stage_a_staged_unit_is_training(tmp_path):
    """A 2D-3D unit trains stage by stage (each with its own events): status names the newest stage and its length."""
    import os

    unit = tumour_cv.Unit(tumour_cv.CONFIGS["2d3d"], 1, tmp_path)
    for i, (stage, iterations, done) in enumerate([("2d-axial", 2000, 2000), ("2d-coronal", 2000, 340)]):
        log = unit.run_dir / "stages" / stage / "events.jsonl"
        log.parent.mkdir(parents=True)
        log.write_text(json.dumps({"event": "start", "iteration": 0, "iterations": iterations}) + "\n" + "".join(
            json.dumps({"event": "iteration", "iteration": k - 1, "seconds_per_iteration": 0.5,
                        "eta_seconds": (iterations - k) * 0.5}) + "\n" for k in range(20, done + 1, 20)))
        os.utime(log, (1000 + i, 1000 + i))  # the coronal stage is the newer one
    info = tumour_cv.unit_progress(unit)
    assert info["state"] == "training" and info["stage"] == "2d-coronal"
    assert (info["iteration"], info["stage_iterations"], info["eta_min"]) == (340, 2000, 13.8)
