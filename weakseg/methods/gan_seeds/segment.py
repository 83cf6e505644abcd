"""Stages 5 and 7 (§2.5–2.6): segmentation models S0, S_US, S_OS trained from seeds and healthy variants.

L_M = δ·L_seed + ε·L_var + ζ·L_size (eq. 15): partial cross-entropy on the seeds (log m on
s₊, log(1−m) on s₋, spec §5 item 1), the L1 difference |x − x̂| weighted by (1 − m) (the
text's reading, spec §5 item 2: leaving a large difference outside the mask costs), and the
mean mask size. S0 uses the RISE seeds on every slice; S_US and S_OS use the refined seeds on
X_C,r ∪ X_NC and X_C,r respectively.
"""

from __future__ import annotations

import numpy as np
import torch

from weakseg.errors import WeakSegError
from weakseg.nn.gan_unet import GanUNet, GanUNetConfig

from .common import StageMethod, flip_rows


def unet_config(options, in_channels: int | None = None) -> GanUNetConfig:
    return GanUNetConfig(options.size, in_channels or len(options.sequences), 1, options.unet_base, options.nz, False,
                         options.seg_slope)


def seg_loss(m, pos, neg, flair, healthy, options) -> tuple[torch.Tensor, dict[str, float]]:
    eps = 1e-6
    m = m.float().clamp(eps, 1 - eps)
    n = (pos + neg).sum((1, 2, 3)).clamp(min=1)
    seed = -((pos * torch.log(m) + neg * torch.log(1 - m)).sum((1, 2, 3)) / n).mean()
    diff = (flair - healthy).abs()
    if options.var_norm == "hw":
        var = ((1 - m) * diff).mean((1, 2, 3)).mean()
    else:
        var = (((1 - m) * diff).sum((1, 2, 3)) / (1 - m).sum((1, 2, 3)).clamp(min=1)).mean()
    size = m.mean((1, 2, 3)).mean()
    total = options.delta * seed + options.epsilon * var + options.zeta * size
    return total, {"loss": total.item(), "seed": seed.item(), "var": var.item(), "size": size.item()}


class SegStage(StageMethod):
    """One segmentation model; ``rows_and_seeds`` (from the pipeline context) picks its slices and seeds."""

    def __init__(self, options, context=None, stage: str = "s0"):
        self.stage = stage
        super().__init__(options, context)

    def build_network(self):
        return GanUNet(unet_config(self.options))

    def network_entry(self):
        return {"name": "gan-unet", "config": unet_config(self.options).to_dict()}

    def select(self):
        self.rows, self.positive, self.negative = self.context.training_seeds(self.stage)
        if not len(self.rows):
            raise WeakSegError(f"stage {self.stage}: no slice to train on (refinement accepted no segmentation)")
        self.healthy = self.context.healthy
        return {**self.bank.counts(), "train_slices": int(len(self.rows)),
                "tumour_slices": int(self.bank.y[self.rows].sum())}

    def draw_batch(self, rng):
        rows = rng.choice(self.rows, self.options.batch)
        arrays = [self.bank.x[rows], self.positive[rows][:, None].astype(np.float32),
                  self.negative[rows][:, None].astype(np.float32), self.healthy[rows][:, None].astype(np.float32)]
        if self.options.augment:
            arrays = flip_rows(rng, *arrays)
        return dict(zip(("x", "pos", "neg", "healthy"), (torch.from_numpy(a) for a in arrays)))

    def loss(self, network, batch):
        m, _ = network(batch["x"])
        return seg_loss(m, batch["pos"], batch["neg"], batch["x"][:, :1], batch["healthy"], self.options)


@torch.no_grad()
def segment(network, x: np.ndarray, batch: int = 128) -> np.ndarray:
    """Soft masks (N, S, S) of a segmentation U-Net, eval mode."""
    network.eval()
    out = [network(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])))[0][:, 0].numpy()
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, *x.shape[-2:]), np.float32)
