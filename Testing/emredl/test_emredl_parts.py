"""EMReDL's pieces on small arrays: the evidential loss, regions, histogram references, the E-step switch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from weakseg.errors import WeakSegError
from weakseg.labels.schema import ROI1, ROI2, ROI3
from weakseg.methods.emredl import channels as ch
from weakseg.methods.emredl.config import EMReDLConfig
from weakseg.methods.emredl.method import dissimilarity
from weakseg.methods.emredl.prior import edl_loss
from weakseg.methods.emredl.regions import regions_from_masks


def test_fa_from_p_and_q_matches_the_phantom_maps():
    """Spec §6.2: FA = sqrt(3/2)·q/sqrt(p² + q²) holds for the phantom's derived maps."""
    from weakseg.phantom import PhantomConfig, make_tumour_case

    phantom = make_tumour_case(PhantomConfig.preset("tiny", seed=3))
    fa, p, q = (phantom.array(n).astype(np.float64) for n in ("fa", "p", "q"))
    inside = p > 0
    assert np.allclose(fa[inside], np.sqrt(1.5) * q[inside] / np.sqrt(p[inside] ** 2 + q[inside] ** 2), atol=1e-5)
    assert np.allclose(p[inside], np.sqrt(3) * phantom.array("md")[inside], rtol=1e-5)


def test_edl_loss_prefers_evidence_for_the_true_class():
    y = torch.tensor([[0.0, 1.0]])
    right = edl_loss(torch.tensor([[1.0, 20.0]]), y, epoch=20)
    none = edl_loss(torch.tensor([[1.0, 1.0]]), y, epoch=20)
    wrong = edl_loss(torch.tensor([[20.0, 1.0]]), y, epoch=20)
    assert right < none < wrong
    # epoch 0: no KL term, so wrong-class evidence is only the squared error
    assert edl_loss(torch.tensor([[20.0, 1.0]]), y, epoch=0) < wrong


def test_regions_from_the_two_drawn_masks():
    core = np.zeros((3, 6, 6), bool)
    core[1, 2:4, 2:4] = True
    flair = np.zeros_like(core)
    flair[1, 1:5, 1:5] = True
    brain = np.ones_like(core)
    brain[:, 0] = False
    regions = regions_from_masks(core, flair, brain)
    assert (regions[core] == ROI1).all()
    assert (regions[flair & ~core] == ROI2).all()
    assert (regions[brain & ~flair] == ROI3).all() and (regions[~brain] == 0).all()


def test_core_outside_flair_is_refused():
    core = np.zeros((2, 4, 4), bool)
    core[0, 0, 0] = core[0, 1, 1] = True
    flair = np.zeros_like(core)
    flair[0, 1, 1] = True
    with pytest.raises(WeakSegError, match="1 of 2 core voxels lie outside the FLAIR mask"):
        regions_from_masks(core, flair)


def test_histogram_reference_maps_every_case_onto_the_same_scale():
    rng = np.random.default_rng(0)
    mask = np.ones((4, 8, 8), bool)
    cases = [(f"c{i}", (rng.gamma(2.0, 1.0 + i, mask.shape) * (10 + 5 * i)).astype(np.float32), mask) for i in range(3)]
    ref = ch.fit_reference("rcbv", cases, 64)
    assert 0.0 <= min(ref.quantiles) and max(ref.quantiles) <= 1.0
    outs = [ch.normalise(v, m, ref) for _, v, m in cases]
    # after matching, differently scaled cases share one distribution (standardised with the training mean/SD)
    for out in outs:
        assert abs(float(out.mean())) < 0.2 and 0.8 < float(out.std()) < 1.2
    # the mapping keeps the order of the voxels
    order = np.argsort(cases[2][1].ravel())
    assert (np.diff(outs[2].ravel()[order]) >= -1e-6).all()


def test_gamma_switch_dissimilarities():
    prior = np.array([0.9, 0.2, 0.6])
    cnn = np.array([0.8, 0.9, 0.4])
    assert np.allclose(dissimilarity(prior, cnn, "abs"), [0.1, 0.7, 0.2])
    assert np.allclose(dissimilarity(prior, cnn, "binary"), [0, 1, 1])
    kl = dissimilarity(prior, cnn, "kl")
    assert kl[1] > kl[0] > 0


def test_channel_kinds_and_structural_fallback():
    config = EMReDLConfig(channels=[["t1c", "structural"], ["flair", "structural"], ["rcbv", "physiological"]])
    assert config.prior_channels == ["rcbv"] and not config.prior_fallback
    fallback = EMReDLConfig(channels=[["t1c", "structural"], ["flair", "structural"]])
    assert fallback.prior_channels == ["t1c", "flair"] and fallback.prior_fallback
    with pytest.raises(WeakSegError, match="structural or physiological"):
        EMReDLConfig(channels=[["t1c", "anatomical"]])


def test_prior_examples_leave_out_the_drawn_necrosis():
    """Stage A's tumour examples skip a drawn necrosis (core by label, not tumour by physiology) when asked;
    the core stays ROI1 for stage B, and a necrosis covering the whole core leaves the core as it is."""
    from weakseg.methods.emredl.data import EMCase, prior_positives

    regions = np.full((1, 4, 4), ROI3, np.uint8)
    regions[0, 1:3, 1:3] = ROI1
    necrosis = np.zeros_like(regions, bool)
    necrosis[0, 1, 1] = True
    case = EMCase("c", np.zeros((1, 1, 4, 4), np.float32), regions, necrosis=necrosis)
    assert prior_positives(case, EMReDLConfig()).sum() == 4
    positives = prior_positives(case, EMReDLConfig(prior_exclude_necrosis=True))
    assert positives.sum() == 3 and not positives[0, 1, 1]
    case.necrosis = regions == ROI1
    assert prior_positives(case, EMReDLConfig(prior_exclude_necrosis=True)).sum() == 4
    case.necrosis = None
    assert prior_positives(case, EMReDLConfig(prior_exclude_necrosis=True)).sum() == 4
    big = np.full((3, 5, 5), ROI1, np.uint8)
    eroded = prior_positives(EMCase("b", np.zeros((1, 3, 5, 5), np.float32), big), EMReDLConfig(prior_roi1_erosion=1))
    assert eroded.sum() == 9 and eroded[1, 1:4, 1:4].all()  # the rim is peeled off, the inside kept
    assert prior_positives(case, EMReDLConfig(prior_roi1_erosion=1)).sum() == 4  # nothing left: the core as drawn


def test_labelled_normalisation_gives_the_core_its_voxel_weight():
    """'labelled' (literal eq. 7): one mean over every labelled voxel; 'mean': each term its own mean; same at λ = 0."""
    from weakseg.methods.emredl.method import EMReDLMethod

    regions = torch.full((1, 10, 10), ROI3)
    regions[0, :2] = ROI1  # 20 core voxels
    regions[0, 2, :5] = ROI2  # 5 ROI2 voxels, 75 ROI3
    logit = torch.zeros(1, 10, 10, requires_grad=True)
    q = torch.ones(1, 10, 10)

    def grads(**options):
        logit.grad = None
        loss, parts = EMReDLMethod(EMReDLConfig(**options)).objective(logit, regions, q)
        loss.backward()
        return logit.grad[0].abs(), loss.item(), parts

    g_mean, loss_mean, parts = grads(loss_normalisation="mean")
    g_lab, loss_lab, _ = grads(loss_normalisation="labelled")
    # mean: an ROI2 voxel weighs |ROI1 ∪ ROI3| / |ROI2| = 95 / 5 times a core voxel; labelled: the same weight
    assert g_mean[2, 0] / g_mean[0, 0] == pytest.approx(19.0)
    assert g_lab[2, 0] / g_lab[0, 0] == pytest.approx(1.0)
    assert loss_mean == pytest.approx(parts["loss_sup"] + parts["loss_reg"])
    assert loss_lab == pytest.approx((95 * parts["loss_sup"] + 5 * parts["loss_reg"]) / 100)
    assert grads(loss_normalisation="labelled", lam=0.0)[1] == pytest.approx(grads(lam=0.0)[1])
    # regions: each region weighs the same (a core voxel 1/20, an ROI3 voxel 1/75, an ROI2 voxel 1/5 of its term)
    g_reg, loss_reg, _ = grads(loss_normalisation="regions")
    assert g_reg[2, 0] / g_reg[0, 0] == pytest.approx(20 / 5) and g_reg[0, 0] / g_reg[9, 9] == pytest.approx(75 / 20)
    core, rest = F.binary_cross_entropy_with_logits(torch.zeros(1), torch.ones(1)), parts["loss_reg"]
    assert loss_reg == pytest.approx((core.item() + core.item() + rest) / 3)  # BCE(0, y) is log 2 for y = 0 and 1
    with pytest.raises(WeakSegError, match="loss_normalisation"):
        EMReDLConfig(loss_normalisation="sum")


def test_prior_context_adds_local_means_from_inside_the_brain_only():
    """prior_context: each prior channel plus its Gaussian local mean per scale, normalised inside the brain, so a
    voxel at the brain's edge is not pulled towards the zeros outside; the paper's per-voxel features without it."""
    from weakseg.methods.emredl.data import prior_volume

    rng = np.random.default_rng(0)
    brain = np.zeros((6, 12, 12), bool)
    brain[1:5, 2:10, 2:10] = True
    names = ["t1c", "rcbv", "md"]
    stack = np.where(brain, 2.0 + 0.1 * rng.standard_normal((3, *brain.shape)), 0.0).astype(np.float32)
    assert np.array_equal(prior_volume(stack, brain, names, ["rcbv", "md"], []), stack[1:])
    volume = prior_volume(stack, brain, names, ["rcbv", "md"], [1.0, 2.0])
    assert volume.shape == (6, *brain.shape)
    assert np.array_equal(volume[:2], stack[1:])
    for smooth in volume[2:]:
        assert np.allclose(smooth[brain], 2.0, atol=0.1) and (smooth[~brain] == 0).all()  # no pull towards 0
        assert smooth[brain].std() < 0.5 * stack[1][brain].std()  # voxel noise averaged away
    config = EMReDLConfig(channels=[["t1c", "structural"], ["rcbv", "physiological"]], prior_context=[1, 2])
    assert config.prior_context == [1.0, 2.0] and config.prior_features == 3
    with pytest.raises(WeakSegError, match="prior_context"):
        EMReDLConfig(prior_context=[0])


def test_prior_members_fold_exactly_into_one_network():
    """prior_members: K trained MLPs become one d -> K·w -> K·w -> 2 network that gives ReLU(mean of the members'
    last pre-activations) + 1, so the model file and inference stay those of one prior."""
    from weakseg.methods.emredl.prior import fold_members
    from weakseg.nn.emredl import EvidentialMLP

    torch.manual_seed(0)
    members = [EvidentialMLP(3, 4) for _ in range(3)]
    for m in members:
        for p in m.parameters():
            torch.nn.init.normal_(p)
    folded = EvidentialMLP(3, 12)
    fold_members(members, folded)
    x = torch.randn(50, 3)
    pre = torch.stack([m.layers[:-1](x) for m in members]).mean(0)
    assert torch.allclose(folded(x), torch.relu(pre) + 1.0, atol=1e-5)
    assert EMReDLConfig(prior_members=3, prior_hidden=4).prior_members == 3
    with pytest.raises(WeakSegError, match="prior_members"):
        EMReDLConfig(prior_members=0)
