"""``weakseg phantom``: writes a loadable case, prints its files, never overwrites without --force."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg import SEQUENCES
from weakseg.cli import main
from weakseg.io.case import load_case


def _run(capsys, *argv):
    code = main(["phantom", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_a_loadable_tumour_case_and_prints_each_file(tmp_path, capsys):
    out_dir = tmp_path / "case"
    code, out, err = _run(capsys, "--out", str(out_dir), "--size", "tiny", "--seed", "7", "--physiology")
    assert code == 0, err
    printed = [Path(line) for line in out.splitlines()]
    assert sorted(printed) == sorted(out_dir.iterdir())
    assert len(printed) == 4 + 1 + 7 + 1  # sequences, seg, physiological maps, infiltration
    case = load_case(out_dir)
    assert set(case.images) == set(SEQUENCES)
    assert case.grid.GetSize() == (48, 48, 32)
    assert set(np.unique(sitk.GetArrayViewFromImage(case.labels))) == {0, 1, 2, 4}
    assert [p.name for p in tmp_path.iterdir()] == ["case"]  # no staging folder left behind


def test_refuses_to_overwrite_without_force_and_replaces_with_it(tmp_path, capsys):
    out_dir = tmp_path / "case"
    assert _run(capsys, "--out", str(out_dir), "--size", "tiny")[0] == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    code, out, err = _run(capsys, "--out", str(out_dir), "--size", "tiny", "--seed", "1")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--force" in err and str(out_dir) in err
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before
    code, out, err = _run(capsys, "--out", str(out_dir), "--size", "tiny", "--kind", "head", "--force")
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["HeadPhantom_0000_oar.nii.gz", "HeadPhantom_0000_oar_labels.json",
                     "HeadPhantom_0000_t1.nii.gz", "HeadPhantom_0000_t2.nii.gz"]
    table = json.loads((out_dir / "HeadPhantom_0000_oar_labels.json").read_text())
    assert len(table["labels"]) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


def test_brats2021_naming(tmp_path, capsys):
    code, out, _ = _run(capsys, "--out", str(tmp_path / "c"), "--size", "tiny", "--naming", "brats2021", "--case-id", "X")
    assert code == 0
    assert sorted(Path(p).name for p in out.split()) == ["X-seg.nii.gz", "X-t1c.nii.gz", "X-t1n.nii.gz", "X-t2f.nii.gz", "X-t2w.nii.gz"]
    labels = sitk.GetArrayFromImage(load_case(tmp_path / "c").labels)
    assert set(np.unique(labels)) == {0, 1, 2, 3}


@pytest.mark.parametrize("argv,message", [
    (["--kind", "head", "--physiology"], "tumour phantoms only"),
    (["--kind", "head", "--template", "mni152"], "tumour phantoms only"),
])
def test_bad_combinations_are_one_line_errors(tmp_path, capsys, argv, message):
    code, out, err = _run(capsys, "--out", str(tmp_path / "c"), "--size", "tiny", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("keep")
    code, _, err = _run(capsys, "--out", str(target), "--size", "tiny")
    assert code == 2 and "not a folder" in err
    assert target.read_text() == "keep"


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["phantom", "--help"])
    assert exit_info.value.code == 0
    assert "--physiology" in capsys.readouterr().out
