"""Scribbles as per-pixel class constraints, and the partial losses that learn from them.

An annotator's stroke says less than a delineation: a foreground stroke of WT says "some tumour
class here", a background stroke "no tumour here"; an ET stroke "enhancing" or "not enhancing".
Each pixel therefore carries a set of *forbidden* classes (4 bits, classes 0 background … 3
enhancing; 0 = unconstrained), the strokes of several classes combined; contradictory strokes
leave the pixel unconstrained. The loss asks the network to put its probability mass on the
allowed classes only (partial cross-entropy, as in scribble-supervised segmentation: Lin et al.,
ScribbleSup, CVPR 2016; Tang et al., CVPR 2018), and says nothing about unscribbled pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SCRIBBLE_CLASSES = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,), "necrosis": (1,), "edema": (2,), "enhancing": (3,)}
"""Which network classes (1 necrosis, 2 edema, 3 enhancing) a stroke of each weak-label class stands for."""
N_CLASSES = 4
EVERY = (1 << N_CLASSES) - 1
FOREGROUND, BACKGROUND = 1, 0


def _bits(classes) -> int:
    return sum(1 << c for c in classes)


def forbidden_bits(strokes: dict[str, np.ndarray]) -> np.ndarray:
    """uint8 forbidden-class bits from int8 scribbles (1 foreground, 0 background, -1 unknown) per class name."""
    shapes = {s.shape for s in strokes.values()}
    if len(shapes) != 1:
        raise ValueError(f"scribbles of different shapes: {sorted(shapes)}")
    out = np.zeros(shapes.pop(), np.uint8)
    for name, stroke in strokes.items():
        inside = _bits(SCRIBBLE_CLASSES[name])
        out[stroke == FOREGROUND] |= EVERY & ~inside
        out[stroke == BACKGROUND] |= inside
    out[out == EVERY] = 0  # strokes that contradict each other say nothing
    return out


def shrink_bits(bits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(z, h, w) bits at the training resolution ``size``: a coarse pixel takes every constraint of the fine
    pixels it covers (the same area footprint as ``data.shrink_stack``), so a 1-pixel stroke survives."""
    if bits.shape[1:] == tuple(size):
        return bits
    out = np.zeros((bits.shape[0], *size), np.uint8)
    for c in range(N_CLASSES):
        plane = torch.from_numpy(((bits >> c) & 1).astype(np.float32))[:, None]
        covered = F.interpolate(plane, size=size, mode="area")[:, 0].numpy() > 0
        out |= (covered.astype(np.uint8) << c)
    out[out == EVERY] = 0
    return out


def allowed(bits: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) bool: class c is allowed where its bit is not set."""
    shifts = torch.arange(N_CLASSES, device=bits.device).view(1, -1, 1, 1)
    return ((bits[:, None].long() >> shifts) & 1) == 0


def partial_ce(logits: torch.Tensor, bits: torch.Tensor, groups: list[tuple[int, ...]]) -> torch.Tensor:
    """−log Σ_{allowed} p over constrained pixels (mean); ``groups[k]``: the classes output channel k stands for."""
    constrained = bits != 0
    if not constrained.any():
        return logits.sum() * 0.0
    ok = allowed(bits)
    model_ok = torch.stack([ok[:, list(g)].any(1) for g in groups], 1)
    logp = F.log_softmax(logits.float(), 1).masked_fill(~model_ok, float("-inf"))
    return -torch.logsumexp(logp, 1)[constrained].mean()


REGION_GROUPS = ((1, 2, 3), (1, 3), (3,))
"""Region outputs WT ⊃ TC ⊃ ET as class sets."""


def partial_region_bce(logits: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """BCE of region sigmoids where a stroke decides the region: inside it when every allowed class is,
    outside when none is; other pixels (and unconstrained ones) are left out."""
    constrained = bits != 0
    if not constrained.any():
        return logits.sum() * 0.0
    ok = allowed(bits)
    terms = []
    for r, classes in enumerate(REGION_GROUPS):
        member = torch.zeros(N_CLASSES, dtype=torch.bool, device=bits.device)
        member[list(classes)] = True
        member = member.view(1, -1, 1, 1)
        positive = constrained & ~(ok & ~member).any(1)
        negative = constrained & ~(ok & member).any(1)
        decided = positive | negative
        if decided.any():
            terms.append(F.binary_cross_entropy_with_logits(logits[:, r].float()[decided], positive[decided].float()))
    return torch.stack(terms).mean() if terms else logits.sum() * 0.0
