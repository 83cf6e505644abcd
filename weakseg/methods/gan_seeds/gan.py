"""Stages 3–4 (§2.3–2.4): the healthy-variant GAN.

Stage A trains a DCGAN (G, D0) on tumour-free FLAIR slices. Stage B builds the converting
U-Net U from a new encoder E, the pre-trained G as decoder and skips, and trains it with a new
discriminator D1 so that U(tumour FLAIR) looks healthy: L_U = α·L_recon (L1 on the negative
seeds) + β·L_adv + γ·L_KL (the latent's per-sample mean and std pushed to 0 and 1, which keeps
G's pre-trained weights meaningful). ``healthy_variants`` applies U to every tumour slice
(x̂ = x on tumour-free ones).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from weakseg.errors import WeakSegError
from weakseg.nn.gan_pair import GanPair, GanPairConfig

from .common import StageMethod, bce, flip_rows, frozen_call

log = logging.getLogger("weakseg")


def pair_config(options, kind: str) -> GanPairConfig:
    return GanPairConfig(kind, options.size, 1, options.gan_base, options.nz, True)


class GanStage(StageMethod):
    betas = (0.5, 0.999)
    kind = "latent"

    @property
    def lr(self) -> float:
        return self.options.lr_gan

    def build_network(self):
        return GanPair(pair_config(self.options, self.kind))

    def network_entry(self):
        return {"name": "gan-pair", "config": pair_config(self.options, self.kind).to_dict()}

    def _healthy_rows(self) -> np.ndarray:
        rows = np.flatnonzero(self.bank.y == 0)
        if len(rows) < 2:
            raise WeakSegError("too few tumour-free slices to train the healthy-variant GAN")
        return rows

    def _real(self, rng, n: int) -> np.ndarray:
        x = self.bank.x[rng.choice(self.healthy, n), :1]
        return flip_rows(rng, x)[0] if self.options.augment else x

    def _d_loss(self, d, real, fake) -> torch.Tensor:
        """Eq. (1): real and generated images in separate batches, labels smoothed to 0.9 / 0.1."""
        hi, lo = self.options.label_smoothing
        return bce(d(real), hi) + bce(d(fake.detach()), lo)


class GanAStage(GanStage):
    """DCGAN on X_NC,FLAIR: L_D0 (eq. 1) and L_G = −log D0(G(z)) (eq. 3)."""

    stage = "gan_a"
    halvings = 1

    def select(self):
        self.healthy = self._healthy_rows()
        return {**self.bank.counts(), "gan_real": int(len(self.healthy))}

    def draw_batch(self, rng):
        b = self.options.batch
        z = rng.standard_normal((b, self.options.nz, 1, 1)).astype(np.float32)
        return {"real": torch.from_numpy(self._real(rng, b)), "z": torch.from_numpy(z)}

    def loss(self, network, batch):
        fake = network.g(batch["z"])
        loss_d = self._d_loss(network.d, batch["real"], fake)
        loss_g = bce(frozen_call(network.d, fake), 1.0)
        return loss_d + loss_g, {"loss": (loss_d + loss_g).item(), "loss_d": loss_d.item(), "loss_g": loss_g.item()}


def u_training_rows(y, p, negative, rule: str) -> tuple[np.ndarray, dict]:
    """X_C (y = 1, p > 0.5) restricted by the negative-seed share (spec §5 item 3); never an empty L_recon."""
    share = negative.reshape(len(negative), -1).mean(1)
    x_c = (y == 1) & (p > 0.5) & (share > 0)
    chosen = x_c & ((share < 0.5) if rule == "lt" else (share > 0.5))
    info = {"x_c": int(x_c.sum()), "subset": int(chosen.sum()), "rule": rule,
            "negative_share_quartiles": [round(float(q), 3) for q in np.percentile(share[x_c], [25, 50, 75])]
            if x_c.any() else []}
    if chosen.sum() < 8:  # the literal rule can leave nothing; say so and use all of X_C
        log.warning("gan-seeds: only %d tumour slices meet the negative-seed rule '%s'; U trains on all %d of X_C",
                    int(chosen.sum()), rule, int(x_c.sum()))
        chosen, info["fallback"] = x_c, "all of X_C"
    return np.flatnonzero(chosen), info


def transplant_batch(x: np.ndarray, negative: np.ndarray, healthy_rows: np.ndarray, tumour_rows: np.ndarray,
                     rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input, target, mask), each (n, 1, S, S): a tumour slice's non-negative-seed region (its lesion and
    unseeded band), inside both brains, pasted onto a tumour-free slice; the target is that tumour-free
    slice, so the answer inside the mask is known healthy tissue without any voxel label."""
    h, t = rng.choice(healthy_rows, n), rng.choice(tumour_rows, n)
    base, donor = x[h, :1], x[t, :1]
    mask = (~negative[t][:, None]) & (base > 0) & (donor > 0)
    pasted = np.where(mask, donor, base).astype(np.float32)
    return pasted, base.astype(np.float32), mask.astype(np.float32)


class GanBStage(GanStage):
    """Converting U-Net U with D1 (eqs. 4–10); G comes from stage A."""

    stage = "gan_b"
    kind = "unet"

    def select(self):
        self.healthy = self._healthy_rows()
        ctx = self.context
        self.rows, self.subset_info = u_training_rows(self.bank.y, ctx.probabilities, ctx.seeds["negative"],
                                                      self.options.u_subset)
        if not len(self.rows):
            raise WeakSegError("no tumour slice is classified as tumour (X_C is empty): the classifier failed")
        self.negative = ctx.seeds["negative"]
        return {**self.bank.counts(), "gan_real": int(len(self.healthy)), "u_train": int(len(self.rows))}

    def build_network(self):
        network = super().build_network()
        if self.context is not None and self.context.generator_state is not None:
            network.g.decoder.load_state_dict(self.context.generator_state)
        return network

    def draw_batch(self, rng):
        b = self.options.batch
        rows = rng.choice(self.rows, b)
        x, neg = self.bank.x[rows, :1], self.negative[rows][:, None].astype(np.float32)
        if self.options.augment:
            x, neg = flip_rows(rng, x, neg)
        batch = {"x": torch.from_numpy(x), "neg": torch.from_numpy(neg), "real": torch.from_numpy(self._real(rng, b))}
        if self.options.inpaint > 0:
            pasted, target, mask = transplant_batch(self.bank.x, self.negative, self.healthy, self.rows, rng, b)
            if self.options.augment:
                pasted, target, mask = flip_rows(rng, pasted, target, mask)
            batch.update(pasted=torch.from_numpy(pasted), target=torch.from_numpy(target), mask=torch.from_numpy(mask))
        return batch

    def loss(self, network, batch):
        o = self.options
        x, neg = batch["x"], batch["neg"]
        healthy, z = network.g(x)
        loss_d = self._d_loss(network.d, batch["real"], healthy)
        recon = ((neg * (x - healthy).abs()).sum((1, 2, 3)) / neg.sum((1, 2, 3)).clamp(min=1)).mean()
        mu, sd = z.mean(1), z.std(1).clamp(min=1e-4)
        kl = -(2 * torch.log(sd) - sd ** 2 - mu ** 2 + 1).mean()
        adv = bce(frozen_call(network.d, healthy), 1.0)
        loss_u = o.alpha * recon + o.beta * adv + o.gamma * kl
        info = {}
        if "pasted" in batch:
            filled, _ = network.g(batch["pasted"])
            mask = batch["mask"]
            inpaint = ((mask * (batch["target"] - filled).abs()).sum((1, 2, 3)) / mask.sum((1, 2, 3)).clamp(min=1)).mean()
            loss_u = loss_u + o.inpaint * inpaint
            info["inpaint"] = inpaint.item()
        total = loss_d + loss_u
        return total, {"loss": total.item(), "loss_d": loss_d.item(), "recon": recon.item(), "adv": adv.item(),
                       "kl": kl.item(), **info}


@torch.no_grad()
def healthy_variants(unet, x: np.ndarray, y: np.ndarray, batch: int = 128) -> np.ndarray:
    """x̂_FLAIR (N, S, S): U(x) on tumour slices, x itself on tumour-free ones (so L_var = 0 there)."""
    unet.eval()
    out = x[:, 0].copy()
    rows = np.flatnonzero(y == 1)
    for i in range(0, len(rows), batch):
        r = rows[i:i + batch]
        out[r] = unet(torch.from_numpy(np.ascontiguousarray(x[r, :1])))[0][:, 0].numpy()
    return out
