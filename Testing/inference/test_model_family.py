"""A case lacking a sequence is segmented by the family member trained for what it has, or refused — never zero-filled."""

from __future__ import annotations

import os

import pytest
import torch

from weakseg.cli import main
from weakseg.methods.mixed import MixedConfig, MixedMethod
from weakseg.models import save_model

from conftest import TINY_NET


def _member(root, model_id: str, sequences: tuple[str, ...], family: str = "tiny-family"):
    torch.manual_seed(len(sequences))
    method = MixedMethod(MixedConfig(**TINY_NET, sequences=sequences))
    card = method.model_card(model_id, {"protocol": "untrained, for tests"}, {}, "", f"tiny {'+'.join(sequences)}")
    card.family = family
    card.expects = {"spacing_mm": [5.0, 5.0, 5.0], "spacing_tolerance_mm": 1.0, "min_slices": 4}  # the tiny phantoms
    return save_model(method.build_network(), card, root / model_id)


@pytest.fixture()
def family(tmp_path, monkeypatch):
    root = tmp_path / "models"
    _member(root, "tiny-all", ("flair", "t1", "t1c", "t2"))
    _member(root, "tiny-flair-t1c", ("flair", "t1c"))
    _member(root, "tiny-t1c", ("t1c",))
    _member(root, "other-t2", ("t2",), family="other")
    monkeypatch.setenv("WEAKSEG_MODELS", str(root))
    return root


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


def test_missing_sequences_pick_the_member_with_the_most_of_them(family, phantom_folder, tmp_path, capsys):
    files = {p.name.split("_")[-1].split(".")[0]: p for p in phantom_folder.glob("*.nii.gz")}
    out = tmp_path / "out"
    code = main(["segment", "--t1c", str(files["t1ce"]), "--flair", str(files["flair"]), "--t2", str(files["t2"]),
                 "--model", "tiny-all", "--out", str(out), "--preprocess", "none", "--threads", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "segmenting with 'tiny-flair-t1c', trained for flair+t1c only" in captured.err
    assert "model tiny-flair-t1c" in captured.out
    provenance = next(out.glob("*_provenance.json")).read_text()
    assert '"model_id": "tiny-flair-t1c"' in provenance

    code = main(["segment", "--t1c", str(files["t1ce"]), "--model", "tiny-all", "--out", str(tmp_path / "t1c"),
                 "--preprocess", "none", "--threads", "1"])
    assert code == 0 and "segmenting with 'tiny-t1c'" in capsys.readouterr().err


def test_a_case_no_member_fits_is_refused_in_one_line_and_nothing_is_written(family, phantom_folder, tmp_path, capsys):
    t2 = next(phantom_folder.glob("*_t2.nii.gz"))
    out = tmp_path / "out"
    code = main(["segment", "--t2", str(t2), "--model", "tiny-all", "--out", str(out), "--preprocess", "none"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "no model of family 'tiny-family' can segment it" in err[0]
    assert "tiny-t1c needs t1c" in err[0] and "tiny-all needs flair+t1+t1c+t2" in err[0]
    assert "other-t2" not in err[0]  # another family's model is never picked behind the user's back
    assert _files(out) == []


def test_a_model_without_family_keeps_the_plain_refusal(tiny_model_dir, phantom_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WEAKSEG_MODELS", str(tiny_model_dir.parent))
    t1c = next(phantom_folder.glob("*_t1ce.nii.gz"))
    code = main(["segment", "--t1c", str(t1c), "--model", str(tiny_model_dir), "--out", str(tmp_path / "o"),
                 "--preprocess", "none"])
    err = capsys.readouterr().err
    assert code == 2 and "case lacks sequence(s) flair, t1, t2" in err
    assert not os.path.exists(tmp_path / "o") or _files(tmp_path / "o") == []
