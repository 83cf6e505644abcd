"""Segmentation losses of the shared recipe: Dice + cross-entropy, softmax classes or nested regions.

Soft Dice is computed over the whole batch ("batch Dice", as nnU-Net does for small
structures): a class absent from one slice does not produce a 0/0 there, and a class absent
from the whole batch contributes ``smooth / smooth = 1`` only if nothing is predicted for it.
Region outputs follow the BraTS evaluation: WT = necrosis + edema + enhancing, TC =
necrosis + enhancing, ET = enhancing, one sigmoid each, so WT ⊃ TC ⊃ ET can be learned
directly (nnU-Net's region-based training).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

REGIONS = ("WT", "TC", "ET")
REGION_CLASSES = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}
"""Network class indices (1 necrosis, 2 edema, 3 enhancing) of each BraTS region."""


def soft_dice_loss(probs: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 − mean over channels of the batch soft Dice; probs and target are [B,K,*S] in [0, 1]."""
    dims = (0, *range(2, probs.ndim))
    intersection = (probs * target).sum(dims)
    total = probs.sum(dims) + target.sum(dims)
    return 1.0 - ((2 * intersection + smooth) / (total + smooth)).mean()


def dice_ce_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Softmax cross-entropy (mean over pixels) + soft Dice over the foreground classes 1..K-1."""
    logits = logits.float()
    ce = F.cross_entropy(logits, target)
    probs = torch.softmax(logits, 1)
    onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).float()
    return ce + soft_dice_loss(probs[:, 1:], onehot[:, 1:], smooth)


def region_targets(classes: torch.Tensor) -> torch.Tensor:
    """Class maps [B,*S] (0..3) → float region masks [B,3,*S] in the order WT, TC, ET."""
    return torch.stack([torch.isin(classes, torch.tensor(REGION_CLASSES[r], device=classes.device))
                        for r in REGIONS], 1).float()


def region_dice_bce_loss(logits: torch.Tensor, classes: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy + soft Dice of the three sigmoid region outputs (logits [B,3,*S])."""
    logits = logits.float()
    target = region_targets(classes)
    bce = F.binary_cross_entropy_with_logits(logits, target)
    return bce + soft_dice_loss(torch.sigmoid(logits), target, smooth)
