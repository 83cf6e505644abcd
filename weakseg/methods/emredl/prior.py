"""Stage A: the evidential (Beta) voxel classifier trained on ROI1 (tumour) vs ROI3 (normal) voxels.

Sensoy et al. 2018's loss (expected squared error + annealed KL to the uniform Beta,
spec §2.2); the output over ROI2 is the prior tumour probability alpha1/S and the
vacuity 2/S, which gates the E-step (high vacuity: the prior knows little, trust the CNN).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from weakseg.methods.emredl.config import EMReDLConfig

log = logging.getLogger("weakseg")


def edl_loss(alpha: torch.Tensor, onehot: torch.Tensor, epoch: int) -> torch.Tensor:
    """Mean over voxels of Sensoy's MSE-form loss plus min(1, epoch/10) x KL(Beta(alpha~) || Beta(1, 1))."""
    strength = alpha.sum(1, keepdim=True)
    p = alpha / strength
    mse = ((onehot - p) ** 2 + p * (1 - p) / (strength + 1)).sum(1)
    tilde = onehot + (1 - onehot) * alpha  # evidence for the true class removed
    s_t = tilde.sum(1)
    kl = (torch.lgamma(s_t) - math.lgamma(2.0) - torch.lgamma(tilde).sum(1)
          + ((tilde - 1) * (torch.digamma(tilde) - torch.digamma(s_t)[:, None])).sum(1))
    return (mse + min(1.0, epoch / 10) * kl).mean()


@torch.no_grad()
def predict(prior: torch.nn.Module, features: np.ndarray, device: torch.device,
            chunk: int = 1 << 18) -> tuple[np.ndarray, np.ndarray]:
    """(tumour probability alpha1/S, vacuity 2/S) per row of ``features`` (N, d)."""
    prior.eval()
    probs, vacuity = [], []
    for start in range(0, len(features), chunk):
        alpha = prior(torch.from_numpy(np.ascontiguousarray(features[start:start + chunk])).to(device, torch.float32))
        strength = alpha.sum(1)
        probs.append((alpha[:, 1] / strength).cpu().numpy())
        vacuity.append((2.0 / strength).cpu().numpy())
    if not probs:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    return np.concatenate(probs).astype(np.float32), np.concatenate(vacuity).astype(np.float32)


def balanced_error(prior: torch.nn.Module, pos: np.ndarray, neg: np.ndarray, device: torch.device) -> float:
    """Mean of the two classes' error rates at probability 0.5 (a tie, no evidence either way, is an error)."""
    p_pos, _ = predict(prior, pos, device)
    p_neg, _ = predict(prior, neg, device)
    return 0.5 * (float((p_pos <= 0.5).mean()) + float((p_neg >= 0.5).mean()))


def train_prior(prior: torch.nn.Module, pos: np.ndarray, neg: np.ndarray, config: EMReDLConfig, device: torch.device,
                seed: int, val: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Fit ``prior`` in place: one epoch = every ROI1 voxel once, each batch half ROI1, half random ROI3 (spec §6.10).

    Keeps the weights with the lowest balanced validation error (training error without
    validation cases); stops after ``prior_patience`` epochs without improvement.
    """
    rng = np.random.default_rng([seed, 1000])
    prior.to(device).train()
    optimiser = torch.optim.Adam(prior.parameters(), lr=config.prior_lr)
    half = max(1, config.prior_batch // 2)
    check_pos, check_neg = val if val is not None and len(val[0]) and len(val[1]) else (pos, neg)
    pos_t = torch.from_numpy(pos).to(device, torch.float32)
    neg_t = torch.from_numpy(neg).to(device, torch.float32)
    best, best_state, best_epoch, epoch = math.inf, None, 0, 0
    for epoch in range(config.prior_epochs):
        prior.train()
        order = torch.from_numpy(rng.permutation(len(pos))).to(device)
        for start in range(0, len(pos), half):
            bp = pos_t[order[start:start + half]]
            bn = neg_t[torch.from_numpy(rng.integers(0, len(neg), len(bp))).to(device)]
            x = torch.cat([bp, bn])
            onehot = torch.zeros(len(x), 2, device=device)
            onehot[:len(bp), 1] = 1
            onehot[len(bp):, 0] = 1
            loss = edl_loss(prior(x), onehot, epoch)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        error = balanced_error(prior, check_pos, check_neg, device)
        if error < best - 1e-6:
            best, best_epoch = error, epoch
            best_state = {k: v.detach().clone() for k, v in prior.state_dict().items()}
        elif epoch - best_epoch >= config.prior_patience:
            break
    if best_state is not None:
        prior.load_state_dict(best_state)
    prior.eval()
    summary = {"epochs": epoch + 1, "best_epoch": best_epoch, "balanced_error": round(best, 5),
               "selected_on": "validation cases" if check_pos is not pos else "training voxels",
               "roi1_voxels": int(len(pos)), "roi3_voxels": int(len(neg))}
    log.info("EMReDL prior: %s", summary)
    return summary
