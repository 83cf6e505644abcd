"""Perfusion- and diffusion-like maps for paper 000 (EMReDL), consistent with the infiltration.

Per compartment the maps take literature-like values (relative CBV/CBF normalised to
white matter, MTT in s, MD in 10⁻³ mm²/s). Infiltrated edema looks like tumour here —
raised rCBV, lower MD than vasogenic edema, FA strongly reduced in white matter — while
it looks like any edema on the structural sequences: only these maps reveal it.
Derived maps obey their definitions exactly: rCBF = rCBV/MTT (central volume theorem,
scaled so WM = 1), p = √3·MD and q = FA·p/√(3/2 − FA²), i.e. FA = √(3/2)·q/√(p² + q²).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

MAPS = ("rcbv", "mtt", "rcbf", "fa", "md", "p", "q")
"""The physiological channels: perfusion (DSC) then diffusion (DTI) maps."""

# tissue (CSF, GM, WM) | necrosis, enhancing, vasogenic edema, infiltrated tissue
VALUES = {
    "rcbv": {"tissue": (0.3, 1.8, 1.0), "ncr": 0.6, "et": 3.6, "vasogenic": 0.8, "infiltrated": 2.6},
    "mtt": {"tissue": (3.0, 3.6, 4.2), "ncr": 6.5, "et": 5.0, "vasogenic": 4.4, "infiltrated": 4.9},
    "md": {"tissue": (3.0, 0.85, 0.72), "ncr": 2.0, "et": 1.0, "vasogenic": 1.55, "infiltrated": 1.05},
}
FA_TISSUE = (0.05, 0.14, 0.45)
FA_NCR, FA_ET = 0.07, 0.13
FA_KEPT = {"vasogenic": 0.75, "infiltrated": 0.35}
"""Fraction of the tissue's FA left: edema spreads fibres, tumour cells destroy them."""
NOISE = 0.05
"""Multiplicative noise of the acquired maps (relative std)."""


def _compartment_map(name: str, fractions: np.ndarray, labels: np.ndarray, density: np.ndarray) -> np.ndarray:
    table = VALUES[name]
    tissue = sum(f * v for f, v in zip(fractions, table["tissue"]))
    edema = (1 - density) * table["vasogenic"] + density * table["infiltrated"]
    out = np.where(labels == 2, edema, tissue)
    out = np.where(labels == 4, table["et"], out)
    return np.where(labels == 1, table["ncr"], out).astype(np.float32)


def _fa_map(fractions: np.ndarray, labels: np.ndarray, density: np.ndarray, coherence: np.ndarray) -> np.ndarray:
    tissue = sum(f * v for f, v in zip(fractions, FA_TISSUE)) * coherence
    kept = (1 - density) * FA_KEPT["vasogenic"] + density * FA_KEPT["infiltrated"]
    out = np.where(labels == 2, tissue * kept, tissue)
    out = np.where(labels == 4, FA_ET, out)
    return np.where(labels == 1, FA_NCR, out).astype(np.float32)


def _degrade(values: np.ndarray, mask: np.ndarray, norm: np.ndarray | None, sigma: float,
             rng: np.random.Generator) -> np.ndarray:
    """Blur within the brain (normalised convolution) to DTI/DSC resolution, then add noise."""
    blurred = values if norm is None else ndi.gaussian_filter(values * mask, sigma) / norm
    noisy = blurred * (1.0 + NOISE * rng.standard_normal(values.shape, dtype=np.float32))
    return np.where(mask, noisy, 0.0).astype(np.float32)


def physiological_maps(fractions: np.ndarray, labels: np.ndarray, density: np.ndarray, mask: np.ndarray,
                       coherence: np.ndarray, rng: np.random.Generator, fwhm_voxels: float = 3.0) -> dict[str, np.ndarray]:
    """rCBV, MTT, rCBF, FA, MD, p, q (float32, 0 outside ``mask``).

    ``density`` is the tumour-cell density (infiltration map); ``coherence`` modulates WM FA
    (fibre bundles are not uniformly aligned).
    """
    sigma = fwhm_voxels / 2.355
    norm = np.maximum(ndi.gaussian_filter(mask.astype(np.float32), sigma), 1e-3) if sigma > 0 else None
    rcbv = np.clip(_degrade(_compartment_map("rcbv", fractions, labels, density), mask, norm, sigma, rng), 0, None)
    mtt = np.clip(_degrade(_compartment_map("mtt", fractions, labels, density), mask, norm, sigma, rng), 0.5, None) * mask
    md = np.clip(_degrade(_compartment_map("md", fractions, labels, density), mask, norm, sigma, rng), 0.05, None) * mask
    fa = np.clip(_degrade(_fa_map(fractions, labels, density, coherence), mask, norm, sigma, rng), 0.0, 0.95) * mask
    wm_ratio = VALUES["mtt"]["tissue"][2] / VALUES["rcbv"]["tissue"][2]
    rcbf = np.divide(rcbv * wm_ratio, mtt, out=np.zeros_like(rcbv), where=mask)
    p = (np.sqrt(3.0) * md).astype(np.float32)
    q = (fa * p / np.sqrt(1.5 - fa * fa)).astype(np.float32)
    maps = {"rcbv": rcbv, "mtt": mtt, "rcbf": rcbf, "fa": fa, "md": md, "p": p, "q": q}
    return {name: maps[name].astype(np.float32) for name in MAPS}
