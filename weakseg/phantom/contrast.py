"""From tissue fractions and tumour labels to MR intensities, as a scanner would give them.

Intensities are relative to white matter (WM = 1) per sequence, then scaled into a
BraTS-like integer range; a smooth bias field and Rician noise follow. The tumour
compartments differ across the four sequences as in real glioblastoma: enhancing rim
bright on T1c, necrosis dark on T1c and bright on T2, edema bright on FLAIR and T2 and
darker on T1, so a network sees them only by combining sequences.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from weakseg.phantom.fields import smooth_noise

# relative signal: CSF, GM, WM | necrosis (BraTS label 1: necrotic and non-enhancing core), edema, enhancing
CONTRAST = {
    "t1": {"tissue": (0.35, 0.72, 1.0), "ncr": 0.68, "ed": 0.78, "et": 0.80},
    "t1c": {"tissue": (0.35, 0.74, 1.0), "ncr": 0.72, "ed": 0.78, "et": 2.00},
    "t2": {"tissue": (2.40, 1.60, 1.0), "ncr": 2.90, "ed": 2.40, "et": 2.30},
    "flair": {"tissue": (0.30, 1.35, 1.0), "ncr": 2.00, "ed": 2.10, "et": 2.20},
}
# Global contrasts tuned so that, on the MNI152 variant, medians relative to white matter
# match those of the BraTS 2018 cases in shared/data (CSF/GM/WM by 3-class Otsu on T1).
WM_LEVEL = {"t1": 480.0, "t1c": 480.0, "t2": 270.0, "flair": 200.0}
"""Integer value of white matter per sequence: plausible BraTS magnitudes."""

EDEMA_TISSUE_SHOW_THROUGH = 0.35
"""Edema is tissue plus water: the underlying GM/WM pattern stays faintly visible."""


def tissue_signal(fractions: np.ndarray, sequence: str, texture: np.ndarray) -> np.ndarray:
    """Partial-volume mix of CSF, GM and WM with a mild multiplicative texture."""
    csf, gm, wm = CONTRAST[sequence]["tissue"]
    signal = fractions[0] * csf + fractions[1] * gm + fractions[2] * wm
    return signal * (1.0 + 0.04 * texture)


def tumour_weights(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Partial-volume weights of edema, necrosis and enhancing tumour (edges one voxel wide)."""
    return {name: ndi.gaussian_filter((labels == value).astype(np.float32), 0.6)
            for name, value in (("ed", 2), ("ncr", 1), ("et", 4))}


def add_tumour(signal: np.ndarray, weights: dict[str, np.ndarray], sequence: str, texture: np.ndarray) -> np.ndarray:
    """Replace tissue signal by tumour signal."""
    table = CONTRAST[sequence]
    edema = weights["ed"]
    core = {"ncr": weights["ncr"], "et": weights["et"]}
    edema_signal = EDEMA_TISSUE_SHOW_THROUGH * signal + (1 - EDEMA_TISSUE_SHOW_THROUGH) * table["ed"]
    out = signal * (1 - edema) + edema_signal * edema
    heterogeneity = 1.0 + 0.10 * texture
    for name, weight in core.items():
        out = out * (1 - weight) + table[name] * heterogeneity * weight
    return out


def acquire(relative: np.ndarray, mask: np.ndarray, sequence: str, rng: np.random.Generator,
            bias_log: np.ndarray, noise: float, background_zero: bool = True) -> np.ndarray:
    """Scale, bias, add Rician noise and quantise to int16; background exactly 0 if asked."""
    level = WM_LEVEL[sequence]
    signal = relative * level * np.exp(bias_log)
    sigma = noise * level
    real = signal + sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    imag = sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    magnitude = np.sqrt(real * real + imag * imag)
    out = np.clip(np.rint(magnitude), 0, np.iinfo(np.int16).max).astype(np.int16)
    if background_zero:
        out[~mask] = 0
        out[mask & (out == 0)] = 1  # "non-zero voxels" stays a valid brain mask
    return out


def bias_field(rng: np.random.Generator, shape: tuple[int, int, int], amplitude: float) -> np.ndarray:
    """Log of a smooth multiplicative field (a few bumps across the head)."""
    return (amplitude * smooth_noise(rng, shape, 2.5)).astype(np.float32)
