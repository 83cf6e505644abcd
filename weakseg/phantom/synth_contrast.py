"""Paint a training image from a generation label map, with a new contrast every time (SynthSeg-style).

Half the draws follow T1 priors (each label's relative T1 signal, jittered), half give every
label a uniformly random intensity (SynthSeg's domain randomisation); then blur, a reduced
resolution along one axis, a smooth multiplicative bias field, noise, a gamma curve, and the
global scale that inference applies (``weakseg.oar.intensity``). Works on 2D patches, so a batch
costs milliseconds and no image volume is ever stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class SynthConfig:
    """Probabilities and ranges of the randomisation (defaults: T1/T1c-like heads, skull on or off)."""

    prior_fraction: float = 0.6
    prior_jitter: float = 0.12
    max_blur: float = 1.0
    max_resolution_factor: float = 2.5
    bias: float = 0.3
    max_noise: float = 0.05
    gamma_sd: float = 0.25
    strip_fraction: float = 0.25
    scale_range: tuple[float, float] = (0.8, 1.25)
    tie_jitter: bool = False
    """In T1-prior draws, one jitter per prior *value*: labels of one tissue (hippocampus, amygdala and
    cortex are all grey matter, 0.6) keep the same intensity, as on a real T1, so the network cannot
    learn a boundary between them that a real scan does not show. False: one jitter per label."""


def draw_lut(prior: np.ndarray, counts: np.ndarray, rng: np.random.Generator, config: SynthConfig) -> np.ndarray:
    """Intensity per generation label, divided by the volume's bright-end reference (99.5th percentile)."""
    n = len(prior)
    if rng.random() < config.prior_fraction:
        if config.tie_jitter:
            _, tissue = np.unique(np.nan_to_num(prior, nan=-1.0), return_inverse=True)
            jitter = rng.normal(1.0, config.prior_jitter, int(tissue.max()) + 1)[tissue.ravel()]
        else:
            jitter = rng.normal(1.0, config.prior_jitter, n)
        lut = np.where(np.isnan(prior), rng.uniform(0.05, 1.3, n), prior) * jitter
    else:
        lut = rng.uniform(0.0, 1.0, n)
    lut = np.clip(lut, 0.0, None)
    lut[0] = rng.uniform(0.0, 0.03)  # air
    return (lut / reference_level(lut, counts)).astype(np.float32)


def reference_level(lut: np.ndarray, counts: np.ndarray, q: float = 99.5) -> float:
    """The 99.5th percentile of the voxel intensities, from the label counts (what ``intensity`` computes)."""
    weights = counts.copy()
    weights[0] = 0
    if weights.sum() == 0:
        return 1.0
    order = np.argsort(lut)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    level = float(lut[order][np.searchsorted(cumulative, q / 100.0)])
    return level if level > 0 else 1.0


def paint(gen: np.ndarray, lut: np.ndarray, rng: np.random.Generator, config: SynthConfig,
          strip: np.ndarray | None = None) -> np.ndarray:
    """A float32 2D image from a 2D generation patch (``strip``: zero outside this brain mask)."""
    image = lut[gen]
    if strip is not None:
        image = np.where(strip, image, 0.0).astype(np.float32)
    sigma = rng.uniform(0.0, config.max_blur)
    if sigma > 0.2:
        image = ndi.gaussian_filter(image, sigma)
    factor = rng.uniform(1.0, config.max_resolution_factor)
    if factor > 1.2:
        axis = int(rng.integers(0, 2))
        zoom = [1.0, 1.0]
        zoom[axis] = 1.0 / factor
        small = ndi.zoom(image, zoom, order=1)
        image = ndi.zoom(small, np.array(image.shape) / np.array(small.shape), order=1)[:gen.shape[0], :gen.shape[1]]
        if image.shape != gen.shape:
            image = np.pad(image, [(0, a - b) for a, b in zip(gen.shape, image.shape)], mode="edge")
    coarse = rng.normal(0.0, config.bias / 2, (4, 4))
    field = ndi.zoom(coarse, np.array(gen.shape) / 4.0, order=3)[:gen.shape[0], :gen.shape[1]]
    image = image * np.exp(field)
    image = image + rng.uniform(0.0, config.max_noise) * rng.standard_normal(image.shape)
    image = np.abs(image)  # magnitude images are never negative
    gamma = float(np.exp(rng.normal(0.0, config.gamma_sd)))
    image = np.power(image, gamma)
    if strip is not None:  # skull-stripped scans are exactly zero outside the brain mask
        image = np.where(strip, image, 0.0)
    return (image * rng.uniform(*config.scale_range)).astype(np.float32)


def augment_real(image: np.ndarray, rng: np.random.Generator, config: SynthConfig) -> np.ndarray:
    """Intensity changes for a real (already normalised) patch: bias, gamma, scale, noise."""
    coarse = rng.normal(0.0, config.bias / 3, (4, 4))
    field = ndi.zoom(coarse, np.array(image.shape) / 4.0, order=3)[:image.shape[0], :image.shape[1]]
    out = np.abs(image * np.exp(field) + rng.uniform(0.0, config.max_noise / 2) * rng.standard_normal(image.shape))
    out = np.power(out, float(np.exp(rng.normal(0.0, config.gamma_sd / 2))))
    return (out * rng.uniform(*config.scale_range)).astype(np.float32)
