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
    assert precision > 3 * chance, (precision, chance)  # 5 mm phantoms on a 32-pixel canvas: coarse, not random
    assert (seeds["negative"] & truth).sum() / truth.sum() < 0.2  # negative seeds rarely cover tumour
    assert seeds["negative"][bank.y == 0].all()


def test_rise_seeds_fall_inside_the_tumour(gs_run, truth, bank, tiny_options):
    """The paper's RISE on the run's classifier, for the tumour slices C recognises."""
    from safetensors.torch import load_file

    from weakseg.methods.gan_seeds.config import GanSeedsConfig
    from weakseg.methods.gan_seeds.seeds import compute_seeds
    from weakseg.nn.slice_classifier import SliceClassifier
    from weakseg.methods.gan_seeds.classifier import classifier_config

    options = GanSeedsConfig.from_dict({**tiny_options, "seed_method": "rise", "rise_masks": 300, "rise_grid": 8})
    net = SliceClassifier(classifier_config(options))
    net.load_state_dict(load_file(str(gs_run / "stages" / "classifier" / "model" / "model.safetensors")))
    rows = np.flatnonzero(bank.y == 1)[::3]
    seeds = compute_seeds(net, bank.x[rows], bank.y[rows], options)
    positive = seeds["positive"]
    chance = truth[rows].mean()
    assert (positive & truth[rows]).sum() / positive.sum() > 3 * chance
    assert (seeds["negative"] & truth[rows]).sum() / truth[rows].sum() < 0.2


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


def test_refinement_keeps_components_that_explain_the_tumour(artifact, truth, bank):
    refined = artifact("refine")
    positive = refined["positive"]
    assert refined["accepted"].sum() > 0 and not (refined["accepted"] & ~refined["x_c"]).any()
    chance = truth[refined["accepted"]].mean()
    assert (positive & truth).sum() / positive.sum() > 2 * chance
    assert not (positive & refined["negative"]).any()
