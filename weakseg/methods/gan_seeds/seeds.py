"""Stage 2 (§2.2): seeds from explanation maps of C — RISE (paper) or Grad-CAM (cheaper).

Each map is min-max normalised to [0, 1]; e > 0.8 is a positive seed, e < 0.2 a negative one.
Tumour-free slices get no positive seed and an all-negative one. Grad-CAM takes positive seeds
from the geometric mean of the maps of several VGG stages (fine stages localise, the coarse one
says which blob matters) and negative seeds from the coarse stage alone, whose low values
rarely touch the tumour; on development slices of our small classifier no single map did both
(docs/results/gan-seeds.md, "Seeds").
"""

from __future__ import annotations

import threading

import numpy as np
import torch
import torch.nn.functional as F

from weakseg.errors import Cancelled


def rise_masks(n: int, size: int, grid: int, keep: float, rng: np.random.Generator) -> torch.Tensor:
    """RISE masks (Petsiuk et al. 2018): a random ``grid``² binary grid, bilinearly upsampled and randomly shifted."""
    cell = int(np.ceil(size / grid))
    up = (grid + 1) * cell
    small = torch.from_numpy((rng.random((n, 1, grid, grid)) < keep).astype(np.float32))
    big = F.interpolate(small, size=(up, up), mode="bilinear", align_corners=False)[:, 0]
    shifts = rng.integers(0, cell, (n, 2))
    return torch.stack([big[i, dy:dy + size, dx:dx + size] for i, (dy, dx) in enumerate(shifts)])


@torch.no_grad()
def rise(network, image: torch.Tensor, masks: torch.Tensor, keep: float, batch: int = 250) -> torch.Tensor:
    """Saliency (S, S) of one image (C, S, S): Σ_i C(x ⊙ M_i) M_i / (N p)."""
    total = torch.zeros(masks.shape[1:])
    for i in range(0, len(masks), batch):
        m = masks[i:i + batch]
        p = network.probability(image[None] * m[:, None])
        total += (p[:, None, None] * m).sum(0)
    return total / (len(masks) * keep)


def gradcam(network, images: torch.Tensor, block: int = 3) -> torch.Tensor:
    """Grad-CAM maps (B, S, S) of the classifier's logit on VGG stage ``block``'s features (before its
    pooling), upsampled bilinearly."""
    network.zero_grad(set_to_none=True)
    logits, feats = network.with_features(images, block)
    logits.sum().backward()
    weights = feats.grad.mean((2, 3), keepdim=True)
    cam = torch.relu((weights * feats).sum(1, keepdim=True))
    network.zero_grad(set_to_none=True)
    return F.interpolate(cam.detach(), size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]


def normalise(maps: torch.Tensor) -> torch.Tensor:
    flat = maps.flatten(1)
    lo, hi = flat.min(1)[0], flat.max(1)[0]
    return ((flat - lo[:, None]) / (hi - lo).clamp(min=1e-8)[:, None]).view_as(maps)


def compute_seeds(network, x: np.ndarray, y: np.ndarray, options, cancel: threading.Event | None = None,
                  progress=None) -> dict[str, np.ndarray]:
    """Positive / negative seeds and the normalised saliency of every slice of the bank."""
    network.eval()
    n, size = len(x), x.shape[-1]
    sal = np.zeros((n, size, size), np.float32)
    tumour = np.flatnonzero(y == 1)
    if options.seed_method == "rise":
        masks = rise_masks(options.rise_masks, size, options.rise_grid, options.rise_keep, np.random.default_rng(0))
        for done, k in enumerate(tumour):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while computing RISE seeds; resume to continue")
            sal[k] = normalise(rise(network, torch.from_numpy(x[k]), masks, options.rise_keep)[None])[0].numpy()
            if progress is not None and done % 50 == 0:
                progress({"stage": "seeds", "fraction": done / max(1, len(tumour))})
        negative_map = sal
    else:
        negative_map = np.zeros_like(sal)
        for i in range(0, len(tumour), 64):
            rows = torch.from_numpy(x[tumour[i:i + 64]])
            cams = {b: normalise(gradcam(network, rows, b)) for b in {*options.gradcam_blocks, options.gradcam_negative_block}}
            fused = torch.stack([cams[b] for b in options.gradcam_blocks]).prod(0) ** (1 / len(options.gradcam_blocks))
            sal[tumour[i:i + 64]] = normalise(fused).numpy()
            negative_map[tumour[i:i + 64]] = cams[options.gradcam_negative_block].numpy()
    positive = (sal > options.seed_high) & (y[:, None, None] == 1)
    negative = np.where(y[:, None, None] == 1, (negative_map < options.seed_low) & ~positive, True)
    return {"positive": positive, "negative": negative, "saliency": sal.astype(np.float16)}
