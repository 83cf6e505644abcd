"""Unsafe destinations and bad arguments are refused before any work, exit 2, one line naming the path;
inputs stay untouched and nothing is written (defects 5, 6, 7, 8, 14, 15)."""

from __future__ import annotations

import shutil

import pytest
from fault_helpers import assert_one_line_error, cli, snapshot, tiny_disk, weakseg


@pytest.fixture()
def case(case_dir, tmp_path):
    copy = tmp_path / case_dir.name
    shutil.copytree(case_dir, copy)
    return copy


def _segment(capsys, case, model_dir, out, *extra):
    return cli(capsys, "segment", case, "--model", model_dir, "--out", out, "--device", "cpu", "--threads", "1", *extra)


def test_segment_into_the_case_folder_is_refused(capsys, case, model_dir):  # defect 6
    before = snapshot(case)
    code, err = _segment(capsys, case, model_dir, case)
    assert code == 2 and "case folder" in err and str(case) in err, err
    assert snapshot(case) == before


def test_segment_into_a_subfolder_of_the_case_is_refused(capsys, case, model_dir):
    before = snapshot(case)
    code, err = _segment(capsys, case, model_dir, case / "results")
    assert code == 2 and "case folder" in err, err
    assert snapshot(case) == before and not (case / "results").exists()


@pytest.mark.parametrize("prefix", ["../../X", "/tmp/abs", "a/b", "..", ".hidden", "x" * 300])
def test_hostile_prefix_is_refused_and_nothing_lands_outside(capsys, case, model_dir, tmp_path, prefix):  # defect 7
    out = tmp_path / "a" / "b" / "out"
    code, err = _segment(capsys, case, model_dir, out, "--prefix", prefix)
    assert code == 2 and "--prefix" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [case.name]  # nothing written anywhere


def test_evaluate_out_naming_its_truth_is_refused(capsys, case, tmp_path):  # defect 8
    truth = case / f"{case.name}_seg.nii.gz"
    pred = tmp_path / "pred.nii.gz"
    shutil.copy(truth, pred)
    before = snapshot(case)
    code, err = cli(capsys, "evaluate", "--pred", pred, "--truth", truth, "--out", truth)
    assert code == 2 and "own input" in err and str(truth) in err, err
    code, err = cli(capsys, "evaluate", "--pred", pred, "--truth", truth, "--out", tmp_path / "m.csv", "--json", pred)
    assert code == 2 and "own input" in err, err
    assert snapshot(case) == before and pred.read_bytes() == truth.read_bytes()


def test_derive_never_overwrites_an_annotators_labels(capsys, case, tmp_path):  # defect 5
    assert cli(capsys, "labels", "set-range", case, "2", "4", "--class", "WT")[0] == 0
    assert cli(capsys, "labels", "status", case, "reviewed", "--annotator", "dr_who")[0] == 0
    before = snapshot(case)
    code, err = cli(capsys, "labels", "derive", case, "--out", case / "weaklabels")
    assert code == 2 and "case folder" in err, err
    # the same sidecar copied elsewhere (a reviewed set outside its case) is protected too
    elsewhere = tmp_path / "reviewed"
    shutil.copytree(case / "weaklabels", elsewhere)
    code, err = cli(capsys, "labels", "derive", case, "--out", elsewhere)
    assert code == 2 and "annotator" in err and "dr_who" in err, err
    assert snapshot(case) == before
    assert cli(capsys, "labels", "derive", case, "--out", tmp_path / "derived")[0] == 0  # a fresh folder is fine


def test_out_that_is_a_file_or_unwritable_fails_before_inference(capsys, case, model_dir, tmp_path):  # defect 14
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    code, err = _segment(capsys, case, model_dir, a_file, "--model", tmp_path / "no-such-model")
    assert code == 2 and "is an existing file" in err and str(a_file) in err, err  # before the model is even looked up
    code, err = _segment(capsys, case, model_dir, a_file / "sub")
    assert code == 2 and "is a file, not a folder" in err, err
    code, err = cli(capsys, "evaluate", "--pred", case / f"{case.name}_seg.nii.gz",
                    "--truth", case / f"{case.name}_seg.nii.gz", "--out", tmp_path)
    assert code == 2 and "existing folder" in err, err
    with tiny_disk(tmp_path / "ro", "64k", read_only=True) as ro:
        if ro is None:
            pytest.skip("cannot mount a read-only tmpfs here (needs root)")
        code, err = _segment(capsys, case, model_dir, ro / "out")
        assert code == 2 and "read-only" in err and str(ro) in err, err


def test_long_legal_case_id_works_and_too_long_is_refused_first(capsys, case, model_dir, tmp_path):  # defect 14
    long_id = "C" * 238
    code, err = _segment(capsys, case, model_dir, tmp_path / "out", "--case-id", long_id)
    assert code == 0, err
    assert (tmp_path / "out" / f"{long_id}_provenance.json").is_file()
    code, err = _segment(capsys, case, model_dir, tmp_path / "out2", "--case-id", "C" * 250)
    assert code == 2 and "too long" in err, err


def test_case_id_replaces_the_folder_name_everywhere(capsys, case, model_dir, tmp_path):
    import json

    code, err = _segment(capsys, case, model_dir, tmp_path / "out", "--case-id", "study-17")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert all(n.startswith("study-17") for n in names), names
    provenance = (tmp_path / "out" / "study-17_provenance.json").read_text()
    assert json.loads(provenance)["case_id"] == "study-17" and case.name not in provenance


def test_labels_and_segment_argument_errors_exit_2_naming_the_case(case, tmp_path):  # defect 15 (real interpreter)
    proc = weakseg("labels", "set-range", case, "90", "3", "--class", "WT")
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, "outside", case.name)
    proc = weakseg("labels", "set-range", case, "1", "999", "--class", "WT")
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, "outside 0-", case.name)
    proc = weakseg("labels", "set-range", case, "1", "3", "--class", "")
    assert proc.returncode == 2 and "--class" in proc.stderr and "Traceback" not in proc.stderr
    proc = weakseg("segment", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, "give a case folder")
    assert not (case / "weaklabels").exists() and not (tmp_path / "out").exists()
