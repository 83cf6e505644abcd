"""Paper 001's pieces: class-weighted loss, normalised-gradient step, batch composition, network shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from weakseg.errors import WeakSegError
from weakseg.methods.mixed import MixedConfig, MixedMethod, seg_loss
from weakseg.nn import UNet2D, UNet2DConfig
from weakseg.training.data import load_training_case, weak_from_full
from weakseg.training.optim import NormalisedSGD, PlateauHalving


def test_seg_loss_gives_each_present_class_its_total_weight():
    torch.manual_seed(0)
    target = torch.randint(0, 3, (2, 5, 6))
    target[target == 2] = 0  # class 2 absent from the batch
    logits = torch.randn(2, 3, 5, 6)
    weights = (0.7, 0.2, 0.1)
    logp = F.log_softmax(logits, 1).gather(1, target[:, None])[:, 0]
    expected = -sum(weights[c] * logp[target == c].mean() for c in (0, 1))
    assert torch.isclose(seg_loss(logits, target, weights), expected, atol=1e-6)
    # a uniform prediction costs log(K) times the weight of the classes present
    assert torch.isclose(seg_loss(torch.zeros(2, 3, 5, 6), target, weights), torch.tensor(0.9 * np.log(3), dtype=torch.float32), atol=1e-6)


def test_normalised_sgd_step_length_is_the_learning_rate():
    p = torch.nn.Parameter(torch.tensor([3.0, -4.0, 1.0]))
    q = torch.nn.Parameter(torch.tensor([2.0]))
    opt = NormalisedSGD([p, q], lr=0.25, momentum=0.9)
    p.grad, q.grad = torch.tensor([30.0, 0.0, -40.0]), torch.tensor([0.0])
    before = torch.cat([p.detach(), q.detach()]).clone()
    opt.step()
    step = torch.cat([p.detach(), q.detach()]) - before
    assert torch.isclose(step.norm(), torch.tensor(0.25))
    np.testing.assert_allclose(step[:3].numpy(), [-0.15, 0.0, 0.2], atol=1e-6)
    opt.step()  # same gradient: v = 0.9 v - lr g/|g| → second step 1.9 × the first
    np.testing.assert_allclose((torch.cat([p.detach(), q.detach()]) - before).numpy(), 2.9 * step.numpy(), atol=1e-6)


def test_plateau_halves_once_then_extends():
    opt = NormalisedSGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
    schedule = PlateauHalving(every=10, window=4, min_lr=0.06, extend=10)
    for it in range(10):
        schedule.step(opt, it, 1.0)  # flat loss
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    for it in range(10, 20):
        schedule.step(opt, it, 1.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)  # second failure in a row: interval extended instead
    for it in range(20, 40):
        schedule.step(opt, it, 1.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.06)  # never below min_lr


def test_unet_shapes_and_branch_count():
    net = UNet2D(UNet2DConfig(in_channels=4, n_classes=4, base=4, depth=3, branches=3, branch_conv=4,
                              branch_widths=(8, 8), branch_fc6=8))
    seg, branches = net(torch.zeros(5, 4, 32, 40), n_seg=3)
    assert seg.shape == (3, 4, 32, 40) and len(branches) == 3 and branches[0].shape == (5, 2)
    with pytest.raises(WeakSegError, match="multiple of 8"):
        net(torch.zeros(1, 4, 30, 40))
    valid = UNet2D(UNet2DConfig(base=2, same_padding=False, branches=1, n_classes=2, branch_conv=2,
                                branch_widths=(4, 4), branch_fc6=4))
    seg, _ = valid(torch.zeros(1, 4, 300, 300))
    assert seg.shape[-2:] == (101, 101)  # the paper's 300 → 101


def test_batch_composition_k_m_n(tiny_dataset):
    config = MixedConfig(base=4, depth=2, branch_conv=4, branch_widths=(8, 8), branch_fc6=8, mode="TC", k=3, m=2, n=4)
    data = config.data_config()
    full = load_training_case(tiny_dataset / "Phantom_0000", data)
    weak = weak_from_full(load_training_case(tiny_dataset / "Phantom_0001", data, keep_full=True))
    method = MixedMethod(config)
    network = method.build_network()
    sizes = method.prepare([full, weak], network)
    assert min(v for k, v in sizes.items() if k != "scribbled") > 0
    assert sizes["scribbled"] == 0  # no strokes: no scribble rows, the batch is paper 001's
    batch = method.draw_batch(np.random.default_rng(0))
    images, masks, targets = batch["images"], batch["masks"], batch["branch_targets"]
    assert images.shape[0] == 9 and masks.shape[0] == 5 and targets.shape == (1, 9)
    assert (masks[:3].flatten(1).amax(1) == 1).all()  # FA positives carry their TC mask
    assert (masks[3:] == 0).all()  # negatives: all-zero masks
    assert targets[0].tolist() == [1, 1, 1, 0, 0, 1, 1, 1, 1]
    # the same rng gives the same batch (resumable without sampler state)
    again = method.draw_batch(np.random.default_rng(0))
    assert torch.equal(again["images"], images) and torch.equal(again["masks"], masks)
    # with strokes on the weak case: s scribbled rows after the negatives, carrying forbidden-class bits
    stroked = weak_from_full(load_training_case(tiny_dataset / "Phantom_0001", data, keep_full=True),
                             kinds=("slices", "scribbles"), seed=1)
    method = MixedMethod(MixedConfig(**{**config.to_dict(), "s": 2}))
    assert method.prepare([full, stroked], network)["scribbled"] > 0
    batch = method.draw_batch(np.random.default_rng(0))
    assert batch["masks"].shape[0] == 7 and int(batch["n_full"]) == 5 and batch["images"].shape[0] == 11
    assert (batch["masks"][5:].flatten(1).amax(1) > 0).all()  # every scribbled row holds a stroke


def test_multiclass_refuses_data_without_a_class(tiny_dataset):
    config = MixedConfig(base=4, depth=2, branch_conv=4, branch_widths=(8, 8), branch_fc6=8)
    case = load_training_case(tiny_dataset / "Phantom_0000", config.data_config())
    case.slice_labels[:, 0] = 0  # pretend necrosis never occurs
    with pytest.raises(WeakSegError, match="necrosis"):
        MixedMethod(config).prepare([case], MixedMethod(config).build_network())
