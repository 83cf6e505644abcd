"""3D training patches: centres on tumour or brain voxels, zero-padded windows, every class in the batch.

A valid-padding 3D network reads an ``input_size`` window and predicts the central
``output_size`` cube; patches are centred on a random tumour voxel with probability
``tumour_fraction``, else on a random brain voxel, and redrawn (up to ``max_redraws``
times) until the batch's target cubes hold every class (spec §8 #8). Windows reaching past
the volume are zero-padded, as whole-volume tiling pads. Arrays may be memory-mapped: only
the windows are read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weakseg.errors import WeakSegError


@dataclass(frozen=True)
class PatchConfig:
    input_size: int = 70
    output_size: int = 30
    tumour_fraction: float = 0.5
    max_redraws: int = 30
    brain_stride: int = 2
    """Brain centres are drawn from a grid of this step (keeps the index lists small)."""

    def __post_init__(self) -> None:
        if self.output_size > self.input_size or (self.input_size - self.output_size) % 2:
            raise WeakSegError(f"output cube {self.output_size} must fit centred in the input cube {self.input_size}")
        if not 0 <= self.tumour_fraction <= 1:
            raise WeakSegError("tumour_fraction must be in [0, 1]")


def window(array: np.ndarray, start: tuple[int, int, int], size: int) -> np.ndarray:
    """The size³ window of ``array`` (..., z, y, x) at ``start`` (may lie partly outside), zero-padded."""
    out = np.zeros((*array.shape[:-3], size, size, size), dtype=array.dtype)
    src, dst = [], []
    for s, n in zip(start, array.shape[-3:]):
        a, b = max(s, 0), min(s + size, n)
        if b <= a:
            return out
        src.append(slice(a, b))
        dst.append(slice(a - s, b - s))
    out[(Ellipsis, *dst)] = array[(Ellipsis, *src)]
    return out


def inside_mask(shape: tuple[int, ...], start: tuple[int, int, int], size: int) -> np.ndarray:
    """size³ bool: which voxels of the window at ``start`` lie inside a volume of ``shape`` (z, y, x)."""
    axes = [(np.arange(s, s + size) >= 0) & (np.arange(s, s + size) < n) for s, n in zip(start, shape[-3:])]
    return axes[0][:, None, None] & axes[1][None, :, None] & axes[2][None, None, :]


class PatchSampler:
    """Draws (inputs [B,C,n,n,n] float32, labels [B,n,n,n] int64, inside [B,n,n,n] bool) from volumes.

    volumes: per case a tuple of (C_i, z, y, x) arrays, joined along channels in that order (MR
    stack and feature maps stay separate, possibly memory-mapped, files); classes: per case a
    (z, y, x) class map (0 background); brain: per case a (z, y, x) mask of possible centres.
    ``inside`` marks window voxels within the volume (a caller normalising channels re-zeroes
    the rest).
    """

    def __init__(self, volumes: list[tuple[np.ndarray, ...]], classes: list[np.ndarray], brain: list[np.ndarray],
                 config: PatchConfig, n_classes: int = 4):
        if not volumes or not (len(volumes) == len(classes) == len(brain)):
            raise WeakSegError("no training volumes for 3D patches")
        self.volumes, self.classes, self.config, self.n_classes = volumes, classes, config, n_classes
        self.tumour = [np.flatnonzero(np.asarray(c) > 0).astype(np.int64) for c in classes]
        stride = config.brain_stride
        self.brain = []
        for mask in brain:
            grid = np.zeros(mask.shape, bool)
            grid[::stride, ::stride, ::stride] = True
            self.brain.append(np.flatnonzero(np.asarray(mask) & grid).astype(np.int64))
        if not any(len(t) for t in self.tumour):
            raise WeakSegError("no training case has a tumour voxel; 3D patches cannot be centred on tumour")
        if not any(len(b) for b in self.brain):
            raise WeakSegError("no brain voxel in any training case")

    def _centre(self, rng: np.random.Generator) -> tuple[int, np.ndarray]:
        on_tumour = rng.random() < self.config.tumour_fraction
        pools = self.tumour if on_tumour else self.brain
        candidates = [i for i, p in enumerate(pools) if len(p)]
        case = candidates[int(rng.integers(0, len(candidates)))]
        flat = pools[case][int(rng.integers(0, len(pools[case])))]
        return case, np.array(np.unravel_index(flat, self.classes[case].shape))

    def _target(self, labels: np.ndarray) -> np.ndarray:
        m = (self.config.input_size - self.config.output_size) // 2
        return labels[..., m:m + self.config.output_size, m:m + self.config.output_size, m:m + self.config.output_size]

    def draw(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.config.input_size
        for _attempt in range(max(1, self.config.max_redraws)):
            picks = [self._centre(rng) for _ in range(batch)]
            labels = np.stack([window(np.asarray(self.classes[c]), tuple(int(v) for v in centre - n // 2), n)
                               for c, centre in picks])
            if len(np.unique(self._target(labels))) == self.n_classes:
                break
        inputs, inside = [], []
        for c, centre in picks:
            start = tuple(int(v) for v in centre - n // 2)
            inputs.append(np.concatenate([window(a, start, n).astype(np.float32, copy=False) for a in self.volumes[c]]))
            inside.append(inside_mask(self.classes[c].shape, start, n))
        return np.stack(inputs), labels.astype(np.int64), np.stack(inside)

    def target(self, labels):
        """The central output cube of input-size label windows (numpy or torch)."""
        return self._target(labels)
