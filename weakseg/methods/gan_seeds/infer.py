"""Whole-slice inference (§2.8) and the difference-score filter (§2.7) on canvas slices.

Per slice: p = C(x); x̂ = U(x_FLAIR); m₁ = w·S_OS(x) + (1−w)·S_US(x) with w = 2(p − 0.5) where
p > 0.5, else empty (eqs. 17–18); m₂ = m₁ > 0.5; the difference score d = mean |x − x̂| over m₂
(1 when m₂ is empty, eq. 19); the slice is flagged for review when d < t. ``model`` picks a
stage for the per-stage tables ('s0', 'us', 'os') instead of the blend ('combined');
'combined_residual' also keeps only pixels where |x − x̂| > ``residual`` (ζ/ε, where L_M makes
segmenting pay off; not in the paper, the default of models trained with ``residual_mask``); its
difference score is the unrestricted blend's, so the filter judges what the networks segmented.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from weakseg.errors import Cancelled

MODELS = ("combined", "s0", "us", "os", "combined_residual")


def difference_scores(flair: np.ndarray, healthy: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Eq. (19) per slice: mean |x − x̂| inside the binary mask, 1 where the mask is empty."""
    diff = np.abs(flair - healthy) * masks
    area = masks.reshape(len(masks), -1).sum(1)
    total = diff.reshape(len(masks), -1).sum(1)
    return np.where(area > 0, total / np.maximum(area, 1), 1.0)


def flags(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Slices whose segmentation should be reviewed (d < t); empty masks (d = 1) are never flagged."""
    return np.asarray(scores) < threshold


@torch.no_grad()
def segment_slices(net, images: np.ndarray, usable: np.ndarray, threshold: float, model: str = "combined",
                   batch: int = 64, cancel: threading.Event | None = None, progress=None,
                   residual: float = 0.25) -> dict[str, np.ndarray]:
    """Canvas results for (z, C, S, S) images; slices not ``usable`` (too little brain) stay empty."""
    net.eval()
    z, _, s, _ = images.shape
    p = np.zeros(z, np.float32)
    soft = np.zeros((z, s, s), np.float32)
    healthy = images[:, 0].copy()
    rows = np.flatnonzero(usable)
    for i in range(0, len(rows), batch):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        r = rows[i:i + batch]
        x = torch.from_numpy(np.ascontiguousarray(images[r]))
        pr = net.classifier.probability(x)
        healthy[r] = net.converter(x[:, :1])[0][:, 0].numpy()
        if model == "s0":
            m = net.s0(x)[0][:, 0]
        elif model == "us":
            m = net.s_us(x)[0][:, 0]
        elif model == "os":
            m = net.s_os(x)[0][:, 0]
        else:
            w = (2 * (pr - 0.5)).clamp(0, 1)[:, None, None]
            m = w * net.s_os(x)[0][:, 0] + (1 - w) * net.s_us(x)[0][:, 0]
        m = torch.where((pr > 0.5)[:, None, None], m, torch.zeros_like(m))
        p[r], soft[r] = pr.numpy(), m.numpy()
        if progress is not None:
            progress({"stage": "segment", "fraction": min(1.0, (i + len(r)) / max(1, len(rows)))})
    scores = difference_scores(images[:, 0], healthy, soft > 0.5)
    if model == "combined_residual":
        soft = np.where(np.abs(images[:, 0] - healthy) > residual, soft, 0)
    binary = soft > 0.5
    return {"p": p, "soft": soft, "mask": binary, "healthy": healthy, "d": scores, "flagged": flags(scores, threshold)}
