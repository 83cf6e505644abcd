"""The thesis's class-balanced partial loss (§4.3, eq. in §5.4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def partial_loss(logits: torch.Tensor, labels: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
    """Mean over classes of ``-t_c/N1 Σ_pos log p - (1-t_c)/N0 Σ_neg log(1-p)``; unknown (-1) pixels weigh 0.

    logits: [B, C, H, W] (l1 - l0 of each binary head); labels: int8 [B, C, H, W]; target_weight: [C].
    A class with no positive (or no negative) pixel in the batch drops that term, as in the thesis.
    """
    logits = logits.float()
    log_pos, log_neg = F.logsigmoid(logits), F.logsigmoid(-logits)
    total = logits.new_zeros(())
    for c in range(logits.shape[1]):
        pos, neg = labels[:, c] == 1, labels[:, c] == 0
        if pos.any():
            total = total - target_weight[c] * log_pos[:, c][pos].mean()
        if neg.any():
            total = total - (1 - target_weight[c]) * log_neg[:, c][neg].mean()
    return total / logits.shape[1]
