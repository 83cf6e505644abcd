"""Slices as the networks see them: min-max scaled, brain box fitted into a square canvas.

Paper 002 clips each sequence's non-zero intensities to their 1st/99th percentiles and
min-max scales them (§2.0), so images, the GAN's sigmoid outputs and the difference score
share [0, 1]. Training (``SliceBank`` from the engine's ``TrainingCase`` list) and inference
(``Canvas`` on a prepared stack) call the same functions, so both see identical inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from weakseg.training.data import ABSENT, PRESENT, TrainingCase, presence

WT = (1, 2, 3)


def minmax(stack: np.ndarray) -> np.ndarray:
    """(C, z, y, x) → float32 in [0, 1] per channel: clip to the 1st/99th percentile of the non-zero
    voxels, min-max scale; voxels outside the brain (all channels 0) stay 0."""
    out = np.zeros(stack.shape, np.float32)
    brain = (np.asarray(stack) != 0).any(0)
    for c in range(stack.shape[0]):
        channel = np.asarray(stack[c], np.float32)
        inside = channel[channel != 0]
        if inside.size == 0:
            continue
        lo, hi = np.percentile(inside, [1, 99])
        out[c] = np.where(brain, (np.clip(channel, lo, hi) - lo) / max(hi - lo, 1e-6), 0)
    return out


@dataclass(frozen=True)
class Canvas:
    """How one case's (h, w) brain-box slices sit in the size×size canvas (scale, then centre)."""

    h: int
    w: int
    size: int

    @property
    def scaled(self) -> tuple[int, int]:
        s = self.size / max(self.h, self.w)
        return max(1, round(self.h * s)), max(1, round(self.w * s))

    @property
    def offset(self) -> tuple[int, int]:
        rh, rw = self.scaled
        return (self.size - rh) // 2, (self.size - rw) // 2

    def to_canvas(self, stack: np.ndarray, mode: str = "area") -> np.ndarray:
        """(C, z, h, w) → (z, C, size, size) float32."""
        t = torch.from_numpy(np.ascontiguousarray(np.asarray(stack, np.float32).transpose(1, 0, 2, 3)))
        t = F.interpolate(t, size=self.scaled, mode=mode) if mode == "area" else \
            F.interpolate(t, size=self.scaled, mode=mode, align_corners=False)
        rh, rw = self.scaled
        top, left = self.offset
        out = torch.zeros(t.shape[0], t.shape[1], self.size, self.size)
        out[:, :, top:top + rh, left:left + rw] = t
        return out.numpy()

    def from_canvas(self, maps: np.ndarray) -> np.ndarray:
        """(z, size, size) → (z, h, w) by bilinear resampling of the canvas area the box occupies."""
        rh, rw = self.scaled
        top, left = self.offset
        t = torch.from_numpy(np.ascontiguousarray(maps[:, None, top:top + rh, left:left + rw], dtype=np.float32))
        return F.interpolate(t, size=(self.h, self.w), mode="bilinear", align_corners=False)[:, 0].numpy()


def canvas_slices(stack: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, Canvas]:
    """Images (z, C, S, S) in [0, 1], brain share of the canvas per slice (z,), and the canvas."""
    canvas = Canvas(stack.shape[2], stack.shape[3], size)
    brain = (np.asarray(stack) != 0).any(0)[None].astype(np.float32)
    images = np.clip(canvas.to_canvas(minmax(stack)), 0, 1)
    share = (canvas.to_canvas(brain)[:, 0] > 0.5).reshape(brain.shape[1], -1).mean(1)
    return images, share, canvas


@dataclass
class SliceBank:
    """Every training slice: x (N, C, S, S) float32, y (N,) 0/1 slice label, case index and local z."""

    x: np.ndarray
    y: np.ndarray
    case: np.ndarray
    z: np.ndarray
    case_ids: list[str]

    @property
    def keys(self) -> np.ndarray:
        """(N, 2) [case index, z]: what cached stage results are checked against."""
        return np.stack([self.case, self.z], 1)

    def counts(self) -> dict[str, int]:
        return {"slices": int(len(self.y)), "tumour": int(self.y.sum()), "no_tumour": int((self.y == 0).sum()),
                "cases": len(self.case_ids)}


def build_bank(cases: list[TrainingCase], size: int, min_brain: float, z_range: tuple[int, int] | None) -> SliceBank:
    """Slices with a known whole-tumour slice label, enough brain, inside ``z_range`` (original indices)."""
    xs, ys, cs, zs = [], [], [], []
    for index, case in enumerate(cases):
        labels = presence(case, WT)
        images, share, _ = canvas_slices(case.stack, size)
        keep = case.usable & (share >= min_brain) & np.isin(labels, (ABSENT, PRESENT))
        if z_range is not None:
            original = np.arange(case.depth) + case.z_offset
            keep &= (original >= z_range[0]) & (original <= z_range[1])
        z = np.flatnonzero(keep)
        xs.append(images[z])
        ys.append((labels[z] == PRESENT).astype(np.int8))
        cs.append(np.full(len(z), index, np.int32))
        zs.append(z.astype(np.int32))
    return SliceBank(np.concatenate(xs), np.concatenate(ys), np.concatenate(cs), np.concatenate(zs),
                     [c.case_id for c in cases])
