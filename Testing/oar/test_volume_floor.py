"""Per-scan threshold relaxation: an organ far smaller than in any training head is voted again at lower
thresholds, a head segmented at full size is left alone, and every relaxed class is named for review."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from weakseg.methods.oar.case_prediction import scan_thresholds
from weakseg.methods.oar.volume_floor import VolumeFloor, relax, warning
from weakseg.oar.classes import CLASSES

LENS, EYE = CLASSES.index("lens"), CLASSES.index("eye")


def _probabilities(lens_peak: float) -> dict[str, np.ndarray]:
    """Three orientations; the eye a full 20³ block at 0.999, the lens a 6³ block at ``lens_peak``, 0.6 around it."""
    p = np.zeros((len(CLASSES), 40, 40, 40), np.float32)
    p[EYE, 10:30, 10:30, 10:30] = 0.999
    p[LENS, 14:26, 14:26, 14:26] = 0.6  # the network's lenient halo: never reached from a floor at 0.7
    p[LENS, 17:23, 17:23, 17:23] = lens_peak
    return {o: p.copy() for o in ("axial", "coronal", "sagittal")}


def test_a_class_under_its_floor_is_voted_again_lower_and_a_full_size_one_is_left_alone():
    thresholds = [0.99 if c == "eye" else 0.998 if c == "lens" else 0.5 for c in CLASSES]
    floor = VolumeFloor({"eye": 4.0, "lens": 0.1}, lowest=0.7)  # ml; the eye is 8 ml, the lens 0.216 ml
    used, relaxed = relax(_probabilities(0.985), thresholds, floor)
    assert used[LENS] == 0.98 and relaxed == {"lens": (0.998, 0.98)}  # the first step that recovers the 6³ block
    assert used[EYE] == 0.99  # found at full size: untouched
    assert "lens 0.998 -> 0.98" in warning(relaxed) and warning({}) is None

    used, relaxed = relax(_probabilities(0.6), thresholds, floor)  # nothing reaches the floor above 0.7
    assert used[LENS] == 0.7 and relaxed == {"lens": (0.998, 0.7)}  # tried down to the lowest, no further
    used, relaxed = relax(_probabilities(0.999), thresholds, floor)
    assert used == thresholds and relaxed == {}


class _Card:
    def __init__(self, inference):
        self.inference = inference


def test_the_card_turns_the_floor_on_and_names_what_it_relaxed():
    probs = _probabilities(0.985)
    base = {"thresholds": [0.99 if c == "eye" else 0.998 if c == "lens" else 0.5 for c in CLASSES]}
    assert scan_thresholds(_Card(base), probs) == (base["thresholds"], [])  # no floor: the card's thresholds
    thresholds, warnings = scan_thresholds(_Card({**base, "volume_floor": {"min_ml": {"lens": 0.1}}}), probs)
    assert thresholds[LENS] == 0.98 and len(warnings) == 1 and warnings[0].startswith("thresholds lowered on this scan")
    with pytest.raises(ValueError, match="unknown classes: cornea"):
        VolumeFloor.from_card(_Card({"volume_floor": {"min_ml": {"cornea": 1.0}}}))


def test_the_shipped_model_with_a_floor_leaves_a_complete_phantom_head_alone(tmp_path):
    """Floors from the training sources are far below what the model finds on a head like its training heads."""
    from experiments.oar_calibrate import volume_floor  # the script's rule
    from weakseg.io.case import assemble_case
    from weakseg.methods.oar.case_prediction import segment_oar
    from weakseg.models.registry import load_model
    from weakseg.phantom.config import PhantomConfig
    from weakseg.phantom.head_oar import make_head_case

    model = load_model("default-oar")
    floors = volume_floor({"eye": [14.4], "lens": [0.34], "optic nerve": [0.97], "optic chiasm": [0.18],
                           "pituitary gland": [0.46], "hippocampus": [4.19], "brainstem": [15.5]})
    model = replace(model, card=replace(model.card, inference={**model.card.inference, "volume_floor": floors}))
    head = make_head_case(PhantomConfig(seed=3, physiology=False))
    case = assemble_case("head", {"t1": head.images["t1"]}, {}, None, "t1", log_warnings=False)
    result = segment_oar(case, model)
    assert not [w for w in result.warnings if w.startswith("thresholds lowered")], result.warnings
    assert result.provenance["thresholds"] == dict(zip(CLASSES, model.card.inference["thresholds"]))
    json.dumps(result.provenance)
