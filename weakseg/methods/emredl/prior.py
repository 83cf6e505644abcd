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


def fold_members(members: list[torch.nn.Module], into: torch.nn.Module) -> None:
    """Load K trained d -> w -> w -> 2 evidential MLPs into ``into`` (d -> K·w -> K·w -> 2) exactly.

    The first layers stack, the second becomes block-diagonal, the last averages the members'
    evidence before its ReLU: ``into`` computes alpha = ReLU(mean_k z_k) + 1, z_k being member
    k's last pre-activation. One ordinary network, so the model file and inference are unchanged.
    """
    first, second, last = (into.layers[i] for i in (0, 2, 4))
    w = members[0].layers[0].out_features
    with torch.no_grad():
        second.weight.zero_()
        for k, member in enumerate(members):
            rows = slice(k * w, (k + 1) * w)
            first.weight[rows] = member.layers[0].weight
            first.bias[rows] = member.layers[0].bias
            second.weight[rows, rows] = member.layers[2].weight
            second.bias[rows] = member.layers[2].bias
            last.weight[:, rows] = member.layers[4].weight / len(members)
        last.bias.copy_(torch.stack([m.layers[4].bias for m in members]).mean(0))


def train_members(prior: torch.nn.Module, pos: np.ndarray, neg: np.ndarray, config: EMReDLConfig,
                  device: torch.device, seed: int, val: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Fit ``prior`` in place; with ``prior_members`` = K > 1, K independently seeded MLPs folded into it.

    An ensemble lowers the variance of the ranking the prior gives ROI2, which it never sees in
    training: a separable ROI1-vs-ROI3 task leaves that ranking to each fit's extrapolation.
    """
    from weakseg.nn.emredl import EvidentialMLP

    if config.prior_members == 1:
        return train_prior(prior, pos, neg, config, device, seed, val)
    members, summaries = [], []
    for k in range(config.prior_members):
        with torch.random.fork_rng(devices=[]):  # the members' initialisations leave the global RNG as it was
            torch.manual_seed(seed + 7919 * k)
            member = EvidentialMLP(prior.layers[0].in_features, prior.layers[0].out_features // config.prior_members)
        summaries.append(train_prior(member, pos, neg, config, device, seed + 7919 * k, val))
        members.append(member.to(device))
    fold_members(members, prior.to(device))
    prior.eval()
    return {"members": summaries, "roi1_voxels": int(len(pos)), "roi3_voxels": int(len(neg))}


def train_prior(prior: torch.nn.Module, pos: np.ndarray, neg: np.ndarray, config: EMReDLConfig, device: torch.device,
                seed: int, val: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Fit ``prior`` in place: one epoch = every ROI1 voxel once, each batch half ROI1, half random ROI3 (spec §6.10).

    Keeps the weights with the lowest balanced validation error (training error without
    validation cases; on at most ``prior_check_voxels`` fixed random voxels per class); stops
    after ``prior_patience`` epochs without improvement.
    """
    rng = np.random.default_rng([seed, 1000])
    prior.to(device).train()
    optimiser = torch.optim.Adam(prior.parameters(), lr=config.prior_lr)
    half = max(1, config.prior_batch // 2)
    check_pos, check_neg = val if val is not None and len(val[0]) and len(val[1]) else (pos, neg)
    selected_on = "validation cases" if check_pos is not pos else "training voxels"
    if config.prior_check_voxels:  # a fixed random subset per class: the check costs far more than the epoch's step
        pick = np.random.default_rng([seed, 1001])  # its own stream: the training draws stay the same
        check_pos, check_neg = (x[np.sort(pick.choice(len(x), config.prior_check_voxels, replace=False))]
                                if len(x) > config.prior_check_voxels else x for x in (check_pos, check_neg))
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
               "selected_on": selected_on, "check_voxels": [int(len(check_pos)), int(len(check_neg))],
               "roi1_voxels": int(len(pos)), "roi3_voxels": int(len(neg))}
    log.info("EMReDL prior: %s", summary)
    return summary
