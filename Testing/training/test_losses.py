"""Dice + cross-entropy and the region loss on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from weakseg.training.losses import dice_ce_loss, region_dice_bce_loss, region_targets, soft_dice_loss


def test_soft_dice_hand_values():
    target = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])  # [B=1, K=1, 4 pixels]
    assert soft_dice_loss(target.clone(), target, smooth=0.0).item() == pytest.approx(0.0)
    assert soft_dice_loss(1 - target, target, smooth=0.0).item() == pytest.approx(1.0)
    half = torch.tensor([[[0.5, 0.5, 0.5, 0.5]]])  # 2*1 / (2 + 2) = 0.5
    assert soft_dice_loss(half, target, smooth=0.0).item() == pytest.approx(0.5)
    # a class absent from the batch and not predicted costs nothing (smooth / smooth)
    assert soft_dice_loss(torch.zeros(1, 1, 4), torch.zeros(1, 1, 4), smooth=1.0).item() == pytest.approx(0.0)


def test_dice_ce_is_cross_entropy_plus_foreground_dice():
    target = torch.tensor([[[0, 1], [2, 3]]])
    confident = F.one_hot(target, 4).movedim(-1, 1).float() * 30.0
    assert dice_ce_loss(confident, target, smooth=0.0).item() == pytest.approx(0.0, abs=1e-6)
    uniform = torch.zeros(1, 4, 2, 2)
    # CE = log 4; each foreground class: probs 0.25 everywhere, 1 pixel of 4 -> dice 2*0.25/(1+1) = 0.25
    assert dice_ce_loss(uniform, target, smooth=0.0).item() == pytest.approx(math.log(4) + 0.75, abs=1e-6)


def test_region_targets_are_nested_brats_regions():
    classes = torch.tensor([[0, 1, 2, 3]])
    regions = region_targets(classes)  # WT, TC, ET
    assert regions[0].tolist() == [[0, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 1]]
    perfect = (regions * 2 - 1) * 30.0
    assert region_dice_bce_loss(perfect, classes, smooth=0.0).item() == pytest.approx(0.0, abs=1e-6)
    zero = torch.zeros(1, 3, 4)  # BCE log 2; Dice per region 2*0.5*n/(0.5*4 + n)
    expected = math.log(2) + 1 - (2 * 1.5 / 5 + 2 * 1.0 / 4 + 2 * 0.5 / 3) / 3
    assert region_dice_bce_loss(zero, classes, smooth=0.0).item() == pytest.approx(expected, abs=1e-6)
