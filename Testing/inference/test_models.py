"""Model registry: SHA-256 verification, no unpickling, lookup by id and path."""

from __future__ import annotations

import shutil

import pytest

from weakseg.cli import main
from weakseg.errors import WeakSegError
from weakseg.models import ModelCard, find_model, list_models, load_model


def test_model_with_changed_weights_is_refused(tiny_model_dir, tmp_path, phantom_folder, capsys):
    copy = tmp_path / "tampered"
    shutil.copytree(tiny_model_dir, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0x01  # one flipped bit inside a tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(WeakSegError, match="does not match the model card") as info:
        load_model(copy)
    assert str(weights) in str(info.value)
    code = main(["segment", str(phantom_folder), "--model", str(copy), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "SHA-256" in err
    assert not (tmp_path / "o").exists()


def test_card_round_trip_and_lookup_by_id(tiny_model_dir, monkeypatch, tmp_path):
    card = ModelCard.read(tiny_model_dir / "card.json")
    assert card.sequences == ["flair", "t1", "t1c", "t2"]
    assert [(e.name, e.value) for e in card.labels] == [("necrosis", 1), ("edema", 2), ("enhancing", 4)]
    assert all(e.snomed_code for e in card.labels) and "research" in card.licence
    monkeypatch.setenv("WEAKSEG_MODELS", str(tiny_model_dir.parent))
    assert "tiny-test" in list_models()
    assert find_model("tiny-test") == tiny_model_dir
    model = load_model("tiny-test")
    assert not model.network.training
    with pytest.raises(WeakSegError, match="no model 'nonexistent'"):
        find_model("nonexistent")


def test_pickle_file_named_as_weights_is_not_loaded(tiny_model_dir, tmp_path):
    """A pickled file in place of the safetensors fails as data, it is never unpickled."""
    import json
    import pickle

    copy = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(pickle.dumps({"x": 1}))
    card = json.loads((copy / "card.json").read_text())
    from weakseg.models import sha256_file

    card["weights"]["sha256"] = sha256_file(weights)
    (copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(WeakSegError, match="model card was changed"):  # the card's own digest catches the edit
        load_model(copy)
    from weakseg.models.card import card_digest

    card["card_sha256"] = card_digest(card)  # an attacker who also re-seals the card: the pickle is still never loaded
    (copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(WeakSegError, match="do not fit|cannot|weights"):
        load_model(copy)


def test_edited_card_network_is_refused_before_allocating(tiny_model_dir, tmp_path):
    """A card edited to describe a huge network is refused by its digest, and, re-sealed, by the shape check."""
    import json

    from weakseg.models.card import card_digest

    copy = tmp_path / "edited"
    shutil.copytree(tiny_model_dir, copy)
    card = json.loads((copy / "card.json").read_text())
    card["network"]["config"]["base"] = 4096
    (copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(WeakSegError, match="changed after it was written"):
        load_model(copy)
    card["card_sha256"] = card_digest(card)
    (copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(WeakSegError, match="network of .* values|do not fit"):
        load_model(copy)


def test_saved_model_files_follow_the_umask(tiny_model_dir):
    import os
    import stat

    from weakseg.io.atomic import FILE_MODE

    for name in ("model.safetensors", "card.json"):
        assert stat.S_IMODE(os.stat(tiny_model_dir / name).st_mode) == FILE_MODE, name


def test_shipped_default_model_loads_if_present():
    try:
        folder = find_model("default")
    except WeakSegError:
        pytest.skip("default model not shipped yet")
    model = load_model("default")
    assert model.card.id == "default-tumour"
    assert (folder / "model.safetensors").stat().st_size <= 20 * 1024 * 1024


@pytest.mark.shared_data
def test_default_model_segments_a_brats_case_and_its_card_states_the_cross_validation(shared_data):
    """The shipped default is its cross-validated configuration retrained on all 22 development cases: its card
    carries the out-of-fold numbers of docs/results/tumour-accuracy.json, and on a development case (seen in
    training: a functional check, not an accuracy claim) it must segment cleanly on the case's exact grid."""
    import json
    from pathlib import Path

    import SimpleITK as sitk

    from weakseg.inference import InferenceConfig, segment_case
    from weakseg.io import load_case
    from weakseg.metrics import evaluate_case

    try:
        model = load_model("default")
    except WeakSegError:
        pytest.skip("default model not shipped yet")
    docs = Path(__file__).resolve().parents[2] / "docs" / "results"
    results = json.loads((docs / "tumour-accuracy.json").read_text())
    thresholds = json.loads((docs / "tumour-region-thresholds.json").read_text())
    stated = model.card.metrics["cross_validation"]
    # labels from the region thresholds chosen by CV: the card states their nested estimate, and the argmax's
    assert model.card.inference["region_thresholds"] == thresholds["chosen_on_all_folds"]
    assert stated["summary"] == thresholds["nested"] and stated["summary"]["cases"] == 22
    assert stated["argmax_summary"] == results["configs"]["recipe-2d"]["summary"]
    assert model.card.metrics["held_out"] is None and model.card.inference["tta"] is True
    case_id = "Brats18_TCIA02_370_1"
    folder = shared_data / "brats18" / case_id
    if not folder.is_dir():
        pytest.skip(f"{case_id} is absent")
    case = load_case(folder)
    result = segment_case(case, model, InferenceConfig(device="cpu"))
    assert result.labels.GetSize() == (240, 240, 155)
    assert result.labels.GetOrigin() == case.grid.GetOrigin()
    scores = evaluate_case(result.labels, case.labels)
    assert scores["WT"]["dice"] > 0.85 and scores["TC"]["dice"] > 0.65 and scores["ET"]["dice"] > 0.65
    assert scores["WT"]["hd95_mm"] < 10
    assert sitk.GetArrayViewFromImage(result.labels).max() == 4  # BraTS 2018 value for enhancing
