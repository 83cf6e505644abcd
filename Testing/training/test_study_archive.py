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
    with pytest.raises(SystemExit, match="has 1 finished units this state lacks"):
        tumour_cv.main(["report", "--out", str(fresh), "--results", str(unarchived)])
    assert json.loads((unarchived / "tumour-accuracy.json").read_text()) == before  # not replaced
    capsys.readouterr()
    assert tumour_cv.main(["run", "--out", str(fresh), *args]) == 0  # restored: nothing is trained again
    text = capsys.readouterr().out
    assert "restored 2 result files" in text  # eval.json and train-config.json; the plan was there and "train started" not in text
    assert tumour_cv.main(["report", "--out", str(fresh), "--results", str(results)]) == 0
    after = json.loads((results / "tumour-accuracy.json").read_text())
    assert after["units_done"] == 1 and after["configs"]["default-2d"]["per_case"] == \
        before["configs"]["default-2d"]["per_case"]
