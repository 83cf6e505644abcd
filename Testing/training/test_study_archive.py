"""A study's finished units survive the loss of its state folder: archived next to the report, restored."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from experiments import study_archive, tumour_cv  # noqa: E402

PATTERNS = ("plan.json", "*/fold-*/eval.json", "*/fold-*/train-config.json")


def _state(root: Path) -> None:
    (root / "a" / "fold-0").mkdir(parents=True)
    (root / "b" / "fold-0").mkdir(parents=True)
    (root / "plan.json").write_text(json.dumps({"folds": [["x"], ["y"]]}))
    (root / "a" / "fold-0" / "eval.json").write_text('{"per_case": {"x": 0.8}}')
    (root / "a" / "fold-0" / "train-config.json").write_text('{"seed": 1}')
    (root / "b" / "fold-0" / "train-config.json").write_text('{"seed": 2}')  # still training: not finished


def test_only_finished_units_are_archived_and_restored_without_overwriting(tmp_path):
    state, archive = tmp_path / "state", tmp_path / "results" / "study.units.json.gz"
    _state(state)
    assert study_archive.save(state, archive, PATTERNS) == 3
    assert set(study_archive.read(archive)) == {"plan.json", "a/fold-0/eval.json", "a/fold-0/train-config.json"}

    fresh = tmp_path / "fresh"
    assert sorted(study_archive.restore(archive, fresh)) == ["a/fold-0/eval.json", "a/fold-0/train-config.json",
                                                             "plan.json"]
    assert (fresh / "a" / "fold-0" / "eval.json").read_text() == '{"per_case": {"x": 0.8}}'
    assert not (fresh / "b").exists()

    (fresh / "a" / "fold-0" / "eval.json").write_text('{"per_case": {"x": 0.9}}')  # a newer result stays
    assert study_archive.restore(archive, fresh) == []
    assert json.loads((fresh / "a" / "fold-0" / "eval.json").read_text())["per_case"]["x"] == 0.9

    # a later save keeps what an older archive had and the state lost
    shutil.rmtree(state / "a")
    study_archive.save(state, archive, PATTERNS)
    assert "a/fold-0/eval.json" in study_archive.read(archive)


def test_another_split_is_left_alone_or_refused_and_a_shrinking_report_refused(tmp_path):
    state, archive = tmp_path / "state", tmp_path / "study.units.json.gz"
    _state(state)
    study_archive.save(state, archive, PATTERNS)
    assert study_archive.restore(archive, tmp_path / "other", folds=[["z"]]) == []  # another data set: untouched
    assert not (tmp_path / "other").exists()

    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "plan.json").write_text(json.dumps({"folds": [["y"], ["x"]]}))
    with pytest.raises(study_archive.ArchiveError, match="another split"):
        study_archive.restore(archive, clash)
    archive.write_bytes(b"not gzip")
    with pytest.raises(study_archive.ArchiveError, match="not a study archive"):
        study_archive.restore(archive, clash)

    report = tmp_path / "report.json"
    report.write_text(json.dumps({"configs": {"a": {"folds_done": [0, 1]}, "b": {"folds_done": []}}}))
    units = study_archive.folds_done("configs")
    study_archive.refuse_to_shrink(report, {"configs": {"a": {"folds_done": [0, 1, 2]}}}, units)  # grows: fine
    with pytest.raises(SystemExit, match=r"has 1 finished units this state lacks \(a/1\)"):
        # as many units, but not the same ones: a new configuration's folds do not replace a lost one's
        study_archive.refuse_to_shrink(report, {"configs": {"a": {"folds_done": [0]}, "b": {"folds_done": [0]}}}, units)


def test_a_lost_cv_state_comes_back_from_the_report_archive(tiny_dataset, tmp_path, capsys):
    out, cache, results = tmp_path / "cv", tmp_path / "cache", tmp_path / "results"
    args = ["--data", str(tiny_dataset), "--cache", str(cache), "--n-folds", "3", "--iterations", "2",
            "--configs", "default-2d", "--working-tree", "--folds", "0", "--results", str(results)]
    assert tumour_cv.main(["run", "--out", str(out), *args]) == 0
    assert tumour_cv.main(["report", "--out", str(out), "--results", str(results)]) == 0
    before = json.loads((results / "tumour-accuracy.json").read_text())
    assert (results / tumour_cv.ARCHIVE).is_file()

    shutil.rmtree(out)  # the machine is lost
    fresh, unarchived = tmp_path / "fresh", tmp_path / "unarchived"
    unarchived.mkdir()
    shutil.copy(results / "tumour-accuracy.json", unarchived)  # a committed report with no archive beside it
    tumour_cv.plan(fresh, tiny_dataset, 3, 2)
    # a configuration the state has nothing of is carried from the committed report, said so, not dropped
    assert tumour_cv.main(["report", "--out", str(fresh), "--results", str(unarchived)]) == 0
    carried = json.loads((unarchived / "tumour-accuracy.json").read_text())
    assert carried["configs"]["default-2d"]["carried_from"] == before["created"] and carried["units_done"] == 1
    assert carried["configs"]["default-2d"]["per_case"] == before["configs"]["default-2d"]["per_case"]
    assert "**Carried results.** default-2d" in (unarchived / "tumour-accuracy.md").read_text()
    capsys.readouterr()
    assert tumour_cv.main(["run", "--out", str(fresh), *args]) == 0  # restored: nothing is trained again
    text = capsys.readouterr().out
    assert "restored 2 result files" in text  # eval.json and train-config.json; the plan was there and "train started" not in text
    assert tumour_cv.main(["report", "--out", str(fresh), "--results", str(results)]) == 0
    after = json.loads((results / "tumour-accuracy.json").read_text())
    assert after["units_done"] == 1 and after["configs"]["default-2d"]["per_case"] == \
        before["configs"]["default-2d"]["per_case"]


def test_a_configuration_is_never_half_carried_and_a_refused_report_still_archives_its_new_units(tiny_dataset, tmp_path):
    out, cache, results = tmp_path / "cv", tmp_path / "cache", tmp_path / "results"
    args = ["--data", str(tiny_dataset), "--cache", str(cache), "--n-folds", "3", "--iterations", "2",
            "--configs", "default-2d", "--working-tree", "--folds", "0", "--results", str(results)]
    assert tumour_cv.main(["run", "--out", str(out), *args]) == 0
    assert tumour_cv.main(["report", "--out", str(out), "--results", str(results)]) == 0
    committed = json.loads((results / "tumour-accuracy.json").read_text())
    committed["configs"]["default-2d"]["folds_done"] = [1]  # a fold this state never had, and not the state's
    (results / "tumour-accuracy.json").write_text(json.dumps(committed))
    (results / tumour_cv.ARCHIVE).unlink()
    with pytest.raises(SystemExit, match=r"has 1 finished units this state lacks \(default-2d/1\)"):
        tumour_cv.main(["report", "--out", str(out), "--results", str(results)])
    assert json.loads((results / "tumour-accuracy.json").read_text()) == committed  # not replaced
    assert "default-2d/fold-0/eval.json" in study_archive.read(results / tumour_cv.ARCHIVE)  # but kept


def test_an_equal_budget_peer_takes_its_budget_from_a_carried_reference_of_the_same_split(tmp_path):
    root, results = tmp_path / "state", tmp_path / "results"
    folds = [["a", "b"], ["c", "d"]]
    root.mkdir()
    results.mkdir()
    (root / "plan.json").write_text(json.dumps({"folds": folds}))
    (results / "tumour-accuracy.json").write_text(json.dumps(
        {"plan": {"folds": folds}, "configs": {"recipe-2d": {"folds_done": [0, 1], "train_minutes": {"0": 25.1}}}}))
    reference = tumour_cv.Unit(tumour_cv.CONFIGS["recipe-2d"], 0, root)
    assert tumour_cv.budget_seconds(reference, results) == pytest.approx(25.1 * 60)
    assert tumour_cv.budget_seconds(tumour_cv.Unit(tumour_cv.CONFIGS["recipe-2d"], 1, root), results) is None
    (root / "plan.json").write_text(json.dumps({"folds": [["a", "c"], ["b", "d"]]}))  # another split
    assert tumour_cv.budget_seconds(reference, results) is None


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_unit_longer_than_a_sitting_resumes_from_its_archived_progress(tmp_path):
    state, archive = tmp_path / "state", tmp_path / "results" / "study.resume.json.gz"
    patterns = tumour_cv.RESUME_PATTERNS
    running = state / "2d3d" / "fold-0"
    files = {"train-config.json": b"{}", "run/stages/2d-axial/model/card.json": b"{}",
             "run/stages/2d-axial/model/model.safetensors": b"weights",
             "run/stages/2d-axial/checkpoint.pt": b"finished stage: not needed",
             "run/stages/2d-coronal/checkpoint.pt": b"half way", "run/stages/2d-coronal/events.jsonl": b"{}\n",
             "run/stages/features/features-1.npy": b"recomputed, never kept"}
    for name, data in files.items():
        (running / name).parent.mkdir(parents=True, exist_ok=True)
        (running / name).write_bytes(data)
    finished = state / "2d3d" / "fold-1"
    (finished / "run").mkdir(parents=True)
    (finished / "run" / "checkpoint.pt").write_bytes(b"done unit")
    (finished / "eval.json").write_text("{}")
    (state / "plan.json").write_text(json.dumps({"folds": [["x"], ["y"]]}))

    assert study_archive.save_resume(state, archive, patterns) == 5
    fresh = tmp_path / "fresh"
    assert study_archive.restore_resume(archive, fresh, [["z"], ["y"]]) == []  # another split
    assert len(study_archive.restore_resume(archive, fresh, [["x"], ["y"]])) == 5
    kept = {k: v for k, v in files.items() if "features" not in k and k != "run/stages/2d-axial/checkpoint.pt"}
    assert _files(fresh / "2d3d" / "fold-0") == kept and not (fresh / "2d3d" / "fold-1").exists()

    (fresh / "2d3d" / "fold-0" / "run" / "stages" / "2d-coronal" / "checkpoint.pt").write_bytes(b"further on")
    assert study_archive.restore_resume(archive, fresh, [["x"], ["y"]]) == []  # a unit under way here is left alone
    assert (fresh / "2d3d" / "fold-0" / "run" / "stages" / "2d-coronal" / "checkpoint.pt").read_bytes() == b"further on"

    (running.parent / "fold-0" / "eval.json").write_text("{}")  # the unit finished: its progress is dropped
    assert study_archive.save_resume(state, archive, patterns) == 0 and not archive.exists()


def test_an_interrupted_2d3d_unit_resumes_on_a_new_machine_without_retraining_its_2d_stages(tiny_dataset, tmp_path,
                                                                                            capsys):
    out, cache, results = tmp_path / "cv", tmp_path / "cache", tmp_path / "results"
    args = ["--data", str(tiny_dataset), "--cache", str(cache), "--n-folds", "3", "--iterations", "2",
            "--configs", "2d3d", "--working-tree", "--folds", "0", "--results", str(results)]
    assert tumour_cv.main(["run", "--out", str(out), *args]) == 0
    unit = tumour_cv.Unit(tumour_cv.CONFIGS["2d3d"], 0, out)
    shutil.rmtree(unit.model_dir)  # stopped in its 3D stage: the 2D stages are finished, the 3D one has a checkpoint
    unit.eval_file.unlink()
    assert (unit.run_dir / "checkpoint.pt").is_file()
    results.mkdir()
    assert study_archive.save_resume(out, results / tumour_cv.RESUME, tumour_cv.RESUME_PATTERNS) > 0
    stages = sorted(p.parent.parent.name for p in (unit.run_dir / "stages").glob("*/model/card.json"))
    assert stages == ["2d-axial", "2d-coronal", "2d-sagittal"]

    shutil.rmtree(out)  # the machine is lost
    capsys.readouterr()
    assert tumour_cv.main(["run", "--out", str(out), *args]) == 0
    text = capsys.readouterr().out
    assert "progress files of unfinished units" in text and "2d3d fold 0: evaluate exit 0" in text
    for stage in stages:  # each 2D stage trained once, on the lost machine; none started here
        events = (unit.run_dir / "stages" / stage / "events.jsonl").read_text().splitlines()
        assert sum(json.loads(e)["event"] == "start" for e in events) == 1
    assert unit.done()


def test_an_entry_is_carried_until_the_state_holds_a_fold_the_committed_report_lacks(tmp_path):
    folds = [["a"], ["b"], ["c"]]
    previous = tmp_path / "report.json"
    previous.write_text(json.dumps({"generated": "then", "plan": {"folds": folds}, "arms": {
        "full-5": {"folds_done": [0, 1], "per_case": {"a": {"WT": 0.8, "fold": 0}}},
        "self-5": {"folds_done": []}}}))
    carried = study_archive.carried_entries(previous, "arms", {"full-5": [0]}, folds)  # a re-measured fold 0
    assert set(carried) == {"full-5"} and carried["full-5"]["carried_from"] == "then"
    assert carried["full-5"]["per_case"] == {"a": {"WT": 0.8, "fold": 0}}
    assert study_archive.carried_entries(previous, "arms", {"full-5": [0, 2]}, folds) == {}  # the state's from now on
    assert study_archive.carried_entries(previous, "arms", {}, [["a"], ["c"], ["b"]]) == {}  # another split
    assert study_archive.carried_entries(tmp_path / "none.json", "arms", {}, folds) == {}


def test_the_carried_banner_names_folds_measured_again_in_this_state():
    lines = study_archive.carried_banner({"full-5": "2026-12-02T00:29:56Z", "mixed-5": "2026-12-02T00:29:56Z"}, "arms",
                                         {"full-5": [0], "mixed-5": [], "self-5": [0]})
    assert lines[0].startswith("**Carried results.** full-5 (report of 2026-12-02T00:29:56Z), mixed-5")
    assert lines[0].endswith("Measured again in this state (same configuration and seed; archived, not on this page "
                             "until the entry is the state's): full-5 fold(s) 0.")  # self-5 is not carried: not named
    assert "Measured again" not in study_archive.carried_banner({"full-5": "d"}, "arms", {"full-5": []})[0]
    assert study_archive.carried_banner({}, "arms", {"full-5": [0]}) == []


def test_a_fold_restored_from_the_archive_is_not_called_measured_again():
    carried = {"A": {"WT": 0.8, "fold": 0}, "B": {"WT": 0.7, "fold": 1}}
    assert study_archive.remeasured_folds({"A": {"WT": 0.8, "fold": 0}}, carried) == []  # the archived copy
    assert study_archive.remeasured_folds({"A": {"WT": 0.81, "fold": 0}, "B": {"WT": 0.7, "fold": 1}}, carried) == [0]
