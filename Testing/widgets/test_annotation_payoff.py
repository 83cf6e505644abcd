"""WeakSegTrain's 'next hour of annotation' advice, read off a payoff curve (WeakSegTrainLib/payoff.py, no Qt)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "WeakSegTrain"))
from WeakSegTrainLib.logic import CaseEntry  # noqa: E402
from WeakSegTrainLib.payoff import Curve, Gain, describe, next_hour, state_of  # noqa: E402

from weakseg.labels.cost import CostModel  # noqa: E402


def _arm(kind, n, wt):
    return {"kind": kind, "n_full": n, "per_case": {"a": {}}, "summary": {"WT": {"mean": wt}}}


@pytest.fixture()
def curve_file(tmp_path):
    """A payoff report's JSON (the fields the panel reads): 2 folds of 10 cases, 8 training cases each."""
    arms = {"full-all": _arm("full", None, 0.80), "full-2": _arm("full", 2, 0.50), "mixed-2": _arm("mixed", 2, 0.62),
            "self-2": _arm("self", 2, 0.55), "full-5": _arm("full", 5, 0.70), "mixed-5": _arm("mixed", 5, 0.74),
            "self-5": {"kind": "self", "n_full": 5, "per_case": {}, "summary": {"WT": None}}}
    record = {"plan": {"folds": [list("abcde")[:2], list("fghij")[:2]]}, "cases_total": 10, "arms": arms,
              "units_done": 11, "units_total": 12}
    path = tmp_path / "weak-label-payoff.json"
    path.write_text(json.dumps(record))
    return path


def test_curve_interpolates_between_measured_points_and_never_extrapolates(curve_file):
    curve = Curve.read(curve_file)
    assert curve.partial
    assert curve.at("full", 2) == pytest.approx(0.50) and curve.at("full", 8) == pytest.approx(0.80)
    assert curve.at("full", 3.5) == pytest.approx(0.60)
    assert curve.at("full", 1) is None and curve.at("full", 9) is None
    assert curve.at("mixed", 8) == pytest.approx(0.80)  # every curve ends at all-full
    gain, cases = curve.weak_gain("mixed", 2)
    assert gain == pytest.approx(0.12) and cases == pytest.approx(6)
    assert Curve.read(curve_file.with_name("missing.json")) is None


def test_next_hour_per_kind(curve_file):
    curve = Curve.read(curve_file)
    gains = {g.kind: g for g in next_hour(curve, n_full=2, n_slices=0, n_unlabelled=20)}
    assert gains["full"].cases == pytest.approx(60 / 45)
    assert gains["full"].gain == pytest.approx(0.20 / 3 * 60 / 45)  # 0.50 → 0.70 over 3 cases, full curve
    # 40 slice ranges fit in an hour (20 cases are left), but only the 6 the study measured count: all of mixed-2's gain
    assert gains["slices"].gain == pytest.approx(0.12) and "mixed" in gains["slices"].note
    assert "beyond" in gains["slices"].note
    assert gains["scribbles"].gain is None and "not measured" in gains["scribbles"].note
    # half of the measured slice-labelled cases already done: half the gain is left
    half = {g.kind: g for g in next_hour(curve, 2, 3, 20, CostModel(slices=20.0))}
    assert half["slices"].cases == 3 and half["slices"].gain == pytest.approx(0.06)
    # with slice labels in the list, a new delineation moves along the mixed curve
    mixed = {g.kind: g for g in next_hour(curve, 2, 6, 10)}
    assert mixed["full"].gain == pytest.approx(0.12 / 3 * 60 / 45)
    # no unlabelled case left, outside the range, or no curve at all
    assert next_hour(curve, 2, 6, 0)[1] == Gain("slices", 0, None, "no unlabelled case left")
    assert next_hour(curve, 1, 0, 10)[0].gain is None
    assert all(g.gain is None for g in next_hour(None, 2, 0, 5))
    text = describe(next_hour(curve, 2, 0, 20), partial=True)
    assert text.splitlines()[0].startswith("slices: 20.0 more case(s), WT Dice +12.0 points") and "partial" in text


def test_state_of_a_case_list(tmp_path):
    entries = [CaseEntry("a", tmp_path, has_full_labels=True), CaseEntry("b", tmp_path, kinds=["slices"]),
               CaseEntry("c", tmp_path, kinds=["full", "slices"]), CaseEntry("d", tmp_path)]
    assert state_of(entries) == (2, 1, 1)
