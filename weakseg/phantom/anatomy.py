"""A procedural, skull-stripped brain: white and grey matter, cortex folding, deep grey
nuclei, ventricles and sulcal CSF, with a smooth irregular outline.

The tumour and the contrasts only need tissue fractions (CSF, GM, WM) and a brain mask,
so the MNI152 template (``template.py``) yields the same ``BrainModel``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weakseg.phantom.fields import centred_coordinates, smooth_noise, soft_fractions

CSF, GM, WM = 1, 2, 3
TISSUES = ("csf", "gm", "wm")


@dataclass
class BrainModel:
    """Tissue of a skull-stripped brain on the phantom grid."""

    mask: np.ndarray
    """bool (z, y, x): inside the brain."""
    fractions: np.ndarray
    """float32 (3, z, y, x): CSF, GM, WM partial-volume fractions (0 outside the brain)."""
    centre_mm: np.ndarray
    """(z, y, x) mm from the grid centre."""
    semi_axes_mm: np.ndarray
    """(z, y, x) half-extent of the brain in mm."""
    t1: np.ndarray | None = None
    """A real T1 image relative to white matter (template brains), used instead of the tissue mix."""

    @property
    def wm(self) -> np.ndarray:
        return self.fractions[2]


def _ellipsoid_radius(z, y, x, centre, semi) -> np.ndarray:
    centre, semi = [float(c) for c in centre], [float(s) for s in semi]  # Python floats keep float32 arrays float32
    return np.sqrt(((z - centre[0]) / semi[0]) ** 2 + ((y - centre[1]) / semi[1]) ** 2 + ((x - centre[2]) / semi[2]) ** 2)


def procedural_brain(shape: tuple[int, int, int], spacing: tuple[float, float, float], rng: np.random.Generator) -> BrainModel:
    """Draw a brain filling the field of view as a BraTS brain fills 240 × 240 × 155 mm."""
    z, y, x = centred_coordinates(shape, spacing)
    fov = np.array(shape) * np.array(spacing[::-1])
    semi = fov * np.array([0.38, 0.36, 0.30]) * rng.uniform(0.95, 1.05, 3)
    centre = fov * np.array([-0.02, 0.0, 0.0])
    rho = _ellipsoid_radius(z, y, x, centre, semi).astype(np.float32)
    outline = 1.0 + 0.035 * smooth_noise(rng, shape, 5) + 0.015 * smooth_noise(rng, shape, 12)
    # flatten the base a little, as the temporal lobes and cerebellum do
    rho = rho * (1.0 + 0.12 * np.clip(-(z - float(centre[0])) / float(semi[0]) - 0.55, 0, None))
    mask = rho < outline
    depth = outline - rho  # 0 at the surface, about 1 at the centre

    gyri = smooth_noise(rng, shape, 26)
    folds = smooth_noise(rng, shape, 30)
    tissue = np.where(mask, WM, 0).astype(np.uint8)
    # a cortical ribbon with gyral fingers reaching into the white matter
    cortex = depth < 0.035 + 0.05 * np.clip(gyri, 0, None) ** 2
    tissue[mask & cortex] = GM
    # sulci: thin CSF lines along the zero crossings of a fold field, plus a thin outer rim
    sulci = (depth < 0.01) | ((np.abs(folds) < 0.12) & (depth < 0.07))
    tissue[mask & sulci] = CSF

    # deep grey nuclei (thalamus, basal ganglia) and lateral ventricles, mirrored L/R
    rel = lambda axis, frac: centre[axis] + frac * semi[axis]  # noqa: E731
    wobble = 1.0 + 0.08 * smooth_noise(rng, shape, 6)
    for side in (-1, 1):
        nuclei = _ellipsoid_radius(z, y, x, (rel(0, 0.02), rel(1, 0.05), rel(2, side * 0.2)), semi * np.array([0.16, 0.2, 0.12]))
        tissue[mask & (nuclei < wobble) & (tissue == WM)] = GM
        horn = _ellipsoid_radius(z, y, x, (rel(0, 0.22), rel(1, -0.02), rel(2, side * 0.09)), semi * np.array([0.13, 0.38, 0.085]))
        tissue[mask & (horn < wobble)] = CSF
    third = _ellipsoid_radius(z, y, x, (rel(0, 0.02), rel(1, 0.05), centre[2]), semi * np.array([0.14, 0.16, 0.02]))
    tissue[mask & (third < 1.0)] = CSF

    fractions = soft_fractions(tissue, (CSF, GM, WM), sigma=0.6)
    fractions *= mask[None]
    return BrainModel(mask=mask, fractions=fractions, centre_mm=centre, semi_axes_mm=semi)
