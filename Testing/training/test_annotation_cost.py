"""The annotation-cost model: paper 001's minutes, configurable, refusing what is not a cost."""

from __future__ import annotations

import pytest

from weakseg.errors import WeakSegError
from weakseg.labels.cost import DEFAULT_COST, SOURCES, CostModel
from weakseg.labels.schema import KINDS


def test_defaults_are_paper_001s_figures_and_every_kind_has_a_source():
    assert DEFAULT_COST.per_case("full") == 45.0
    assert 1.0 <= DEFAULT_COST.per_case("slices") <= 2.0
    assert set(SOURCES) == set(KINDS) and all(SOURCES[k] for k in KINDS)
    assert "assumption" in SOURCES["scribbles"] and "assumption" in SOURCES["regions"]


def test_minutes_of_a_label_mix():
    # mixed-5 on a 17-case training fold: 5 delineations + 12 slice ranges
    assert DEFAULT_COST.minutes({"full": 5, "slices": 12}) == pytest.approx(5 * 45 + 12 * 1.5)
    assert DEFAULT_COST.minutes({}) == 0.0
    assert DEFAULT_COST.hours({"full": 4}) == pytest.approx(3.0)
    cheap = CostModel(full=30.0, slices=1.0)
    assert cheap.minutes({"full": 2, "slices": 3, "scribbles": 1}) == pytest.approx(60 + 3 + DEFAULT_COST.scribbles)


def test_a_full_delineation_subsumes_the_cheaper_kinds_of_the_same_case():
    assert DEFAULT_COST.case_minutes({"full", "slices", "scribbles"}) == 45.0
    assert DEFAULT_COST.case_minutes({"slices", "scribbles"}) == pytest.approx(1.5 + 3.0)
    assert DEFAULT_COST.case_minutes(()) == 0.0


def test_configurable_from_a_dict_and_round_trips():
    model = CostModel.from_dict({"full": 60, "slices": 2})
    assert model.minutes({"full": 1, "slices": 1}) == 62.0
    assert CostModel.from_dict(model.to_dict()) == model
    with pytest.raises(WeakSegError, match="unknown annotation-cost option.*bogus"):
        CostModel.from_dict({"bogus": 1})


@pytest.mark.parametrize("bad", [-1.0, "45", True, float("nan")])
def test_a_cost_that_is_not_minutes_is_refused(bad):
    with pytest.raises(WeakSegError, match="annotation cost of 'full'"):
        CostModel(full=bad)


def test_unknown_kinds_and_bad_counts_are_refused():
    with pytest.raises(WeakSegError, match="unknown label kind 'boxes'"):
        DEFAULT_COST.minutes({"boxes": 1})
    with pytest.raises(WeakSegError, match="whole number"):
        DEFAULT_COST.minutes({"full": -2})
    with pytest.raises(WeakSegError, match="whole number"):
        DEFAULT_COST.minutes({"full": 1.5})
