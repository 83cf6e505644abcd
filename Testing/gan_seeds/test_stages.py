"""Each stage of paper 002 on tiny synthetic cases, from one real ``weakseg train --method gan-seeds`` run."""

from __future__ import annotations

import json

import numpy as np

from weakseg.metrics import slice_auc


def test_every_stage_ran_and_the_model_is_sealed(gs_run):
    from weakseg.models import load_model

    stages = json.loads((gs_run / "stages.json").read_text())
    assert list(stages) == ["classifier", "seeds", "gan_a", "gan_b", "healthy", "s0", "refine", "s_us", "s_os"]
    model = load_model(gs_run / "model")
    assert model.card.method == "gan-seeds" and model.card.network["name"] == "gan-seeds"
    assert model.card.training["slices"]["x_c_refined"] > 0
    assert model.card.training["derive_weak_erosion"] == 1


def test_classifier_learns_presence(artifact, bank):
    p = artifact("seeds")["p"]
    assert slice_auc(p, bank.y) > 0.9
    assert ((p > 0.5) == bank.y.astype(bool)).mean() > 0.8


def test_positive_seeds_fall_inside_the_tumour(artifact, truth, bank):
    seeds = artifact("seeds")
    positive = seeds["positive"]
    assert positive.sum() > 0 and not positive[bank.y == 0].any()
    precision = (positive & truth).sum() / positive.sum()
    chance = truth[bank.y == 1].mean()  # a seed placed at random on the tumour slices
    assert precision > 0.5 and precision > 3 * chance, (precision, chance)
    assert (seeds["negative"] & truth).sum() / truth.sum() < 0.2  # negative seeds rarely cover tumour
    assert seeds["negative"][bank.y == 0].all()


def test_healthy_variant_differs_inside_the_tumour_only(artifact, truth, bank):
    healthy = artifact("healthy")["healthy"].astype(np.float32)
    x = bank.x[:, 0]
    rows = truth.reshape(len(truth), -1).any(1)
    diff = np.abs(x - healthy)[rows]
    inside = diff[truth[rows]].mean()
    outside = diff[(x[rows] > 0) & ~truth[rows]].mean()
    assert inside > 2.5 * outside, (inside, outside)
    no_tumour = bank.y == 0
    assert np.allclose(healthy[no_tumour], x[no_tumour], atol=1e-3)  # x̂ = x there, so L_var = 0


def test_refinement_keeps_components_that_explain_the_tumour(artifact, truth):
    refined = artifact("refine")
    positive = refined["positive"]
    assert refined["accepted"].sum() > 0 and not (refined["accepted"] & ~refined["x_c"]).any()
    assert (positive & truth).sum() / positive.sum() > 0.5
    assert not (positive & refined["negative"]).any()
