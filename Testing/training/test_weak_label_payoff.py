"""The weak-label payoff driver: label-mix arms as tumour_cv units, self-training data, the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from experiments import tumour_cv, weak_label_payoff as payoff  # noqa: E402
from experiments.weak_label_payoff_pseudo import filter_by_slice_labels  # noqa: E402

from weakseg.labels.cost import CostModel  # noqa: E402
from weakseg.phantom import PhantomConfig, make_tumour_case, write_case  # noqa: E402
from weakseg.training import read_events  # noqa: E402


@pytest.fixture(scope="module")
def five_phantoms(tmp_path_factory):
    """Five tiny tumour phantoms: with 5 folds each fold trains on 4, so n = 2 leaves 2 slice-labelled cases."""
    root = tmp_path_factory.mktemp("five")
    for seed in range(5):
        write_case(make_tumour_case(PhantomConfig.preset("tiny", seed=seed)), root / f"Phantom_{seed:04d}")
    return root


def test_arms_are_recipe_2d_on_nested_label_mixes_of_one_seeded_order(tmp_path):
    train = [f"C{i:02d}" for i in range(17)]
    order = payoff.full_order(train, 3)
    assert order == payoff.full_order(list(reversed(train)), 3) and sorted(order) == train
    assert order != payoff.full_order(train, 4)  # each fold its own order
    unit = lambda name: tumour_cv.Unit(payoff.CONFIGS[name], 3, tmp_path)  # noqa: E731
    fields = {name: spec.train_fields(unit(name), train) for name, spec in payoff.CONFIGS.items()}
    assert fields["full-2"] == {"train_cases": order[:2]} and fields["full-5"] == {"train_cases": order[:5]}
    assert fields["mixed-5"] == {"full_cases": order[:5], "derive_weak": True, "derive_weak_erosion": 1}
    assert fields["self-5"] == {"dataset": str(tmp_path / "self-5" / "fold-3" / "pseudo")}
    assert fields["scribbles-5"] == {"full_cases": order[:5], "derive_weak": True, "derive_weak_kinds": ["scribbles"]}
    from weakseg.training.config import TrainConfig

    folds = [train[:4], train[4:8], train[8:12], train[12:15], train[15:]]
    scribbled = TrainConfig.from_dict(tumour_cv.train_config(unit("scribbles-5"), folds, tmp_path, tmp_path))
    assert scribbled.derive_weak and scribbled.derive_weak_kinds == ["scribbles"] and len(scribbled.full_cases) == 5
    assert fields["full-all"] == {}

    ref = tumour_cv.CONFIGS["recipe-2d"]
    for name, spec in payoff.CONFIGS.items():
        assert spec.study == "weak-payoff" and spec.iterations == ref.iterations
        assert spec.options() == ref.options() or name in ("mixed-5-k8", "scribbles-0")
        assert spec.headline == ref.headline and spec.method == ref.method
    assert tumour_cv.study_configs("weak-payoff") is payoff.CONFIGS
    assert not set(payoff.CONFIGS) & set(tumour_cv.CONFIGS)
    assert all(s.study == "accuracy" for s in tumour_cv.CONFIGS.values())
    # the acceptance comparison runs first, then self-5, then the other budgets
    queue = tumour_cv.units(tmp_path, n_folds=5, configs=payoff.CONFIGS)
    assert [u.spec.name for u in queue[:15]] == ["full-all", "full-5", "mixed-5"] * 5
    assert {u.spec.name for u in queue[15:25]} == {"self-5", "scribbles-5"}

    variant = payoff.CONFIGS["mixed-5-k8"]  # the diagnostic: more full slices a batch, same labels as mixed-5
    assert variant.options() == {**ref.options(), "k": 8} and fields.get("mixed-5-k8") == fields["mixed-5"]
    from weakseg.methods import method_module

    assert method_module("mixed").build_method(variant.options()).config.k == 8
    assert queue[-5:] == [u for u in queue if u.spec.name == "mixed-5-k8"]
    assert payoff.ARM_OF["mixed-5"].mix(17) == {"full": 5, "slices": 12}
    assert payoff.ARM_OF["full-all"].mix(18) == {"full": 18}
    assert CostModel().minutes(payoff.ARM_OF["scribbles-5"].mix(17)) == pytest.approx(5 * 45 + 12 * 3)
    alone = payoff.CONFIGS["scribbles-0"]  # scribbles only: no full case, so no negatives or slice-labelled slots
    assert fields["scribbles-0"] == {"full_cases": [], "derive_weak": True, "derive_weak_kinds": ["scribbles"]}
    assert alone.options() == {**ref.options(), "branch": False, "m": 0, "n": 0}
    assert payoff.ARM_OF["scribbles-0"].mix(17) == {"full": 0, "scribbles": 17}
    assert CostModel().minutes(payoff.ARM_OF["self-10"].mix(17)) == pytest.approx(10 * 45 + 7 * 1.5)


def test_pseudo_labels_keep_a_class_only_on_slices_whose_labels_have_it():
    truth = np.zeros((4, 12, 12), np.uint8)
    truth[0, 2:6, 2:6] = 2
    truth[1, 1:11, 1:11] = 2
    truth[1, 5:7, 5:7] = 4  # 2×2: gone after one erosion, so ET counts as absent on slice 1
    truth[2, 1:7, 1:7] = 4
    pred = np.zeros_like(truth)
    pred[0, 1:7, 1:7] = 4  # ET where only edema is labelled → becomes edema
    pred[1, 2:6, 2:6] = 1  # necrosis where it is absent, edema present → edema
    pred[2, 1:7, 1:7] = 4  # agrees: kept
    pred[3, 0:3, 0:3] = 2  # tumour on a tumour-free slice → background
    kept = filter_by_slice_labels(pred, truth, 0, erosion=1)
    assert set(np.unique(kept[0])) == {0, 2} and np.count_nonzero(kept[0] == 2) == 36
    assert set(np.unique(kept[1])) == {0, 2}
    assert np.array_equal(kept[2], pred[2])
    assert not kept[3].any()
    # along another axis the same labels give the same answer
    moved = filter_by_slice_labels(np.moveaxis(pred, 0, 2), np.moveaxis(truth, 0, 2), 2, erosion=1)
    assert np.array_equal(np.moveaxis(moved, 2, 0), kept)


def _args(data, out, cache, *extra):
    return ["run", "--out", str(out), "--data", str(data), "--cache", str(cache), "--n-folds", "5", "--iterations", "2",
            "--working-tree", "--folds", "0", *extra]


def test_the_grid_runs_adopts_full_all_self_trains_on_filtered_labels_and_reports(five_phantoms, tmp_path, capsys):
    accuracy, out, cache = tmp_path / "accuracy", tmp_path / "payoff", tmp_path / "cache"
    assert payoff.main(_args(five_phantoms, out, cache, "--configs", "self-2")) == 0
    assert "self-2 fold 0: skipped until full-2 fold 0 is trained" in capsys.readouterr().out

    assert tumour_cv.main(_args(five_phantoms, accuracy, cache, "--configs", "recipe-2d")) == 0
    assert payoff.main(_args(five_phantoms, out, cache, "--accuracy-state", str(accuracy), "--configs",
                             "full-all", "full-2", "mixed-2", "self-2")) == 0
    unit = {n: tumour_cv.Unit(payoff.CONFIGS[n], 0, out) for n in ("full-all", "full-2", "mixed-2", "self-2")}
    plan = json.loads((out / "plan.json").read_text())
    assert plan["folds"] == json.loads((accuracy / "plan.json").read_text())["folds"]  # one split for both studies

    adopted = json.loads(unit["full-all"].eval_file.read_text())
    twin = json.loads(tumour_cv.Unit(tumour_cv.CONFIGS["recipe-2d"], 0, accuracy).eval_file.read_text())
    assert adopted["adopted_from"].startswith(str(accuracy)) and adopted["per_case"] == twin["per_case"]
    assert not unit["full-all"].run_dir.exists()  # nothing trained twice

    train = [c for f in plan["folds"][1:] for c in f]
    full = payoff.full_order(train, 0)[:2]
    starts = {n: [e for e in read_events(unit[n].run_dir / "events.jsonl") if e["event"] == "start"][0]
              for n in ("full-2", "mixed-2", "self-2")}
    assert starts["full-2"]["train_cases"] == full and starts["full-2"]["pools"]["weak_positive"] == 0
    assert set(starts["mixed-2"]["train_cases"]) == set(train) and starts["mixed-2"]["pools"]["weak_positive"] > 0
    assert set(starts["self-2"]["train_cases"]) == set(train) and starts["self-2"]["pools"]["weak_positive"] == 0

    pseudo = payoff.pseudo_dataset(unit["self-2"])
    record = json.loads((pseudo / "pseudo.json").read_text())
    assert record["full"] == full and set(record["pseudo"]) == set(train) - set(full)
    for case in train:  # images are links to the real data; only the pseudo cases' labels are new files
        seg = pseudo / case / f"{case}_seg.nii.gz"
        assert (pseudo / case / f"{case}_flair.nii.gz").is_symlink() and seg.is_symlink() == (case in full)
    for case in record["pseudo"]:
        truth_image = sitk.ReadImage(str(five_phantoms / case / f"{case}_seg.nii.gz"))
        made = sitk.GetArrayFromImage(sitk.ReadImage(str(pseudo / case / f"{case}_seg.nii.gz")))
        truth = sitk.GetArrayFromImage(truth_image)
        assert made.shape == truth.shape and set(np.unique(made)) <= {0, 1, 2, 4}
        assert np.array_equal(filter_by_slice_labels(made, truth, 0, 1), made)  # already filtered
        tumour_free = ~truth.any(axis=(1, 2))
        assert not made[tumour_free].any()
    # every unit done: a second run starts nothing
    capsys.readouterr()
    assert payoff.main(_args(five_phantoms, out, cache, "--accuracy-state", str(accuracy), "--configs",
                             "full-all", "full-2", "mixed-2", "self-2")) == 0
    assert "started" not in capsys.readouterr().out.split("runner pid", 1)[1].split("\n", 1)[1]

    assert payoff.main(["diagnose", "--out", str(out), "--data", str(five_phantoms), "--cache", str(cache), "--configs",
                        "mixed-2", "--folds", "0", "--batches", "2"]) == 0
    diag = json.loads((unit["mixed-2"].folder / "diagnostics.json").read_text())
    assert set(diag["branch_auc"]) == {"necrosis", "edema", "enhancing"}
    grad = diag["gradient_share"]
    assert 0 < grad["weak_share_mean"] < 1 and -1 <= grad["cosine_mean"] <= 1 and grad["slice_labelled_rows_per_batch"] > 0

    # the runner scored HD95 after each unit (full-all with its twin's model); the command alone redoes nothing
    before = {n: (u.folder / "hd95.json").stat().st_mtime_ns for n, u in unit.items()}
    assert payoff.main(["hd95", "--out", str(out), "--data", str(five_phantoms), "--cache", str(cache)]) == 0
    assert before == {n: (u.folder / "hd95.json").stat().st_mtime_ns for n, u in unit.items()}
    for name in unit:
        hd = json.loads((unit[name].folder / "hd95.json").read_text())["per_case"]
        assert set(hd) == set(plan["folds"][0])
        row = hd[plan["folds"][0][0]]
        assert set(row["ET"]) == {str(t) for t in tumour_cv.ET_THRESHOLDS}
        assert all(v is None or v >= 0 for v in (row["WT"], row["TC"], *row["ET"].values()))

    results, gan_seeds = tmp_path / "results", tmp_path / "gan-seeds"  # gan_seeds_cv's eval of fold 0 (same cases)
    (gan_seeds / "fold0").mkdir(parents=True)
    (gan_seeds / "fold0" / "eval.json").write_text(json.dumps(
        {"cases": [{"case": c, "combined": {"dice_3d": 0.25}} for c in plan["folds"][0]]}))
    (gan_seeds / "fold1").mkdir()  # a fold with other test cases (another split) is left out
    (gan_seeds / "fold1" / "eval.json").write_text(json.dumps({"cases": [{"case": "X", "combined": {"dice_3d": 1.0}}]}))
    assert payoff.main(["report", "--out", str(out), "--results", str(results), "--cost", "full=60",
                        "--gan-seeds", str(gan_seeds)]) == 0
    data = json.loads((results / "weak-label-payoff.json").read_text())
    assert data["units_done"] == 4 and data["units_total"] == 5 * len(payoff.ARMS)
    arms = data["arms"]
    assert arms["full-2"]["minutes"] == 120 and arms["mixed-2"]["minutes"] == 123  # the --cost model
    held_out = plan["folds"][0]
    assert set(arms["mixed-2"]["per_case"]) == set(held_out)
    case = held_out[0]
    mixed = json.loads(unit["mixed-2"].eval_file.read_text())["per_case"][case]
    assert arms["mixed-2"]["per_case"][case]["WT"] == mixed["tta1_cc0.1_et0"]["WT"]  # headline variant, not recomputed
    assert set(data["paired"]) == {"mixed-2 vs full-2", "self-2 vs full-2", "mixed-2 vs self-2", "slices-only vs full-2"}
    slices_only = arms["slices-only"]
    assert slices_only["folds_done"] == [0] and slices_only["minutes"] == 4 * 1.5 and slices_only["summary"]["TC"] is None
    assert data["paired"]["slices-only vs full-2"]["WT"]["mean_diff"] == pytest.approx(
        0.25 - arms["full-2"]["per_case"][case]["WT"])
    assert data["acceptance"]["status"] == "not measured yet" and arms["self-2"]["pseudo"]["cases"] == 2
    text = (results / "weak-label-payoff.md").read_text()
    assert f"**Partial result.** 4 of {5 * len(payoff.ARMS)} units" in text and "| mixed-2 | 2 full + slice labels | 123 | 1/5 | 1 |" in text
    assert "## Diagnostics" in text and "| mixed-2 | 0 |" in text and "## HD95" in text
    assert all(arms[n]["hd95"]["cases"] == 1 for n in unit) and not arms["full-5"]["hd95"]
    assert "**Smoke run**" in text and "Scribbles" in text and "python experiments/weak_label_payoff.py report" in text
    assert (results / "weak-label-payoff.png").read_bytes()[:4] == b"\x89PNG"
    sys.path.insert(0, str(ROOT / "WeakSegTrain"))
    from WeakSegTrainLib.payoff import Curve  # WeakSegTrain's advice reads this very file

    curve = Curve.read(results / "weak-label-payoff.json")
    assert set(curve.wt) == {"full", "mixed", "self", "slices"} and curve.partial
    assert curve.at("mixed", 2) == pytest.approx(arms["mixed-2"]["summary"]["WT"]["mean"])

    # the accuracy study's report still lists only its own configurations
    assert tumour_cv.main(["report", "--out", str(accuracy), "--results", str(tmp_path / "acc-results")]) == 0
    accuracy_text = (tmp_path / "acc-results" / "tumour-accuracy.md").read_text()
    assert "recipe-2d" in accuracy_text and "mixed-2" not in accuracy_text and "full-all" not in accuracy_text


def test_bad_cost_overrides_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="KIND=MINUTES"):
        payoff.main(["report", "--out", str(tmp_path), "--cost", "full"])


def test_a_teacher_whose_model_was_lost_is_trained_again_for_its_pseudo_labels(five_phantoms, tmp_path, capsys):
    """Archives keep a finished unit's scores, not its weights: on a new machine full-n is done but has no
    model, and self-n must not wait for it forever."""
    import shutil

    out, cache = tmp_path / "payoff", tmp_path / "cache"
    assert payoff.main(_args(five_phantoms, out, cache, "--configs", "full-2")) == 0
    teacher = tumour_cv.Unit(payoff.CONFIGS["full-2"], 0, out)
    scores = teacher.eval_file.read_bytes()
    shutil.rmtree(teacher.run_dir)  # what a restore from the archive leaves: eval.json, no model
    assert teacher.done() and not teacher.trained()
    capsys.readouterr()
    assert payoff.main(_args(five_phantoms, out, cache, "--configs", "self-2")) == 0
    log = capsys.readouterr().out
    assert "full-2 fold 0: done, but its model did not survive the machine" in log and "skipped until" not in log
    assert teacher.trained() and teacher.eval_file.read_bytes() == scores  # its archived scores stand
    student = tumour_cv.Unit(payoff.CONFIGS["self-2"], 0, out)
    assert student.done() and (payoff.pseudo_dataset(student) / "pseudo.json").is_file()
