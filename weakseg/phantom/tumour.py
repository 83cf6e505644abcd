"""A glioblastoma-like lesion: necrotic core, enhancing rim, edema, and infiltration.

Each compartment is a noise-perturbed, randomly rotated ellipsoid; the edema spreads
further in white matter than in grey matter, as vasogenic edema does. Tumour cells
(the infiltration map) extend beyond the enhancing margin into *part* of the edema
only, so that the edema holds both infiltrated and purely vasogenic tissue — the
distinction paper 000 learns from physiological maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation

from weakseg.phantom.anatomy import BrainModel
from weakseg.phantom.fields import centred_coordinates, smooth_noise

NCR, ED, ET = 1, 2, 4


@dataclass
class Tumour:
    labels: np.ndarray
    """uint8 (z, y, x), BraTS 2018 values 1/2/4."""
    infiltration: np.ndarray
    """float32 (z, y, x) tumour-cell density in [0, 1]."""


def _random_centre(brain: BrainModel, rng: np.random.Generator, shape, spacing) -> np.ndarray:
    """A point well inside one hemisphere, in brain tissue."""
    z, y, x = centred_coordinates(shape, spacing)
    for _ in range(200):
        side = rng.choice((-1.0, 1.0))
        frac = np.array([rng.uniform(-0.15, 0.45), rng.uniform(-0.45, 0.45), side * rng.uniform(0.2, 0.5)])
        point = brain.centre_mm + frac * brain.semi_axes_mm
        idx = [int(np.argmin(np.abs(axis.ravel() - p))) for axis, p in zip((z, y, x), point)]
        if brain.mask[tuple(idx)] and brain.fractions[0][tuple(idx)] < 0.5:
            return point
    return brain.centre_mm + np.array([0.0, 0.0, 0.3]) * brain.semi_axes_mm


def make_tumour(brain: BrainModel, rng: np.random.Generator, shape: tuple[int, int, int],
                spacing: tuple[float, float, float]) -> Tumour:
    """Draw the lesion's labels and tumour-cell density; everything outside the brain stays 0."""
    scale = float(np.prod(brain.semi_axes_mm)) ** (1 / 3)  # about 70 mm for an adult brain
    centre = _random_centre(brain, rng, shape, spacing)
    r_et = scale * rng.uniform(0.15, 0.27)
    r_ncr = r_et * rng.uniform(0.55, 0.8)
    r_ed = r_et * rng.uniform(1.4, 2.0)
    # on coarse grids keep every compartment a few voxels across: an enhancing rim about two
    # voxels thick around a core at least 1.5 voxels in radius
    voxel = max(spacing)
    r_et = max(r_et, 3.5 * voxel)
    r_ed = max(r_ed, 1.5 * r_et)
    r_ncr = float(np.clip(r_ncr, 1.5 * voxel, r_et - 1.8 * voxel))
    stretch = rng.uniform(0.8, 1.25, 3)
    rotation = Rotation.random(random_state=rng).as_matrix().astype(np.float32)
    ncr_shift = rng.normal(0.0, 0.08 * r_et, 3)
    sector_fraction = rng.uniform(0.35, 0.65)

    # work in a box around the lesion: shapes and distances only there
    spacing_zyx = np.array(spacing[::-1])
    half_box = 1.6 * r_ed * stretch.max() / spacing_zyx
    z, y, x = centred_coordinates(shape, spacing)
    centre_idx = np.array([np.argmin(np.abs(a.ravel() - c)) for a, c in zip((z, y, x), centre)])
    lo = np.maximum(centre_idx - np.ceil(half_box).astype(int), 0)
    hi = np.minimum(centre_idx + np.ceil(half_box).astype(int) + 1, shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    box_shape = tuple(int(b - a) for a, b in zip(lo, hi))
    pz, py, px = (c[s] - p for c, s, p in zip((z.ravel(), y.ravel(), x.ravel()), box, centre))
    # rotated, stretched offsets from the centre (mm)
    pts = [pz[:, None, None], py[None, :, None], px[None, None, :]]
    local = [sum(rotation[i, j] * pts[j] for j in range(3)) / stretch[i] for i in range(3)]
    radius = np.sqrt(local[0] ** 2 + local[1] ** 2 + local[2] ** 2)
    radius_ncr = np.sqrt(sum((loc - ncr_shift[i]) ** 2 for i, loc in enumerate(local)))

    cells = np.maximum(np.array(box_shape) * spacing_zyx / (0.6 * r_et), 2.0)
    brain_box = brain.mask[box]
    wm_box = brain.wm[box]
    et = (radius < r_et * (1 + 0.18 * smooth_noise(rng, box_shape, cells))) & brain_box
    ncr = (radius_ncr < r_ncr * (1 + 0.15 * smooth_noise(rng, box_shape, cells))) & et
    edema_reach = r_ed * (0.75 + 0.35 * wm_box) * (1 + 0.22 * smooth_noise(rng, box_shape, cells * 0.7))
    ed = (radius < edema_reach) & brain_box & ~et & (brain.fractions[0][box] < 0.5)  # not into ventricles
    et = _largest_component(et)
    ncr &= ndi.binary_erosion(et)  # necrosis stays enclosed by the enhancing rim
    if not ncr.any():
        ncr = ndi.binary_erosion(et, iterations=2)
    ed &= _largest_component(ed | et)

    labels = np.zeros(shape, np.uint8)
    box_labels = np.zeros(box_shape, np.uint8)
    box_labels[ed] = ED
    box_labels[et] = ET
    box_labels[ncr] = NCR
    labels[box] = box_labels

    # tumour-cell density: 1 in the core, decaying away from the enhancing margin inside an
    # infiltrated sector of the edema (along white matter); the rest of the edema is vasogenic
    outside = ndi.distance_transform_edt(~(et | ncr), sampling=spacing_zyx).astype(np.float32)
    decay = 1.6 * (r_ed - r_et)
    sector_field = smooth_noise(rng, box_shape, np.maximum(cells * 0.5, 2.0))
    threshold = np.quantile(sector_field[ed], 1 - sector_fraction) if ed.any() else 0.0
    sector = 1 / (1 + np.exp(-(sector_field - threshold) / 0.08))
    density = np.exp(-outside / decay) * sector * (0.85 + 0.15 * wm_box)
    density = np.where(et | ncr, 1.0, np.where(ed, density, 0.0)).astype(np.float32)
    infiltration = np.zeros(shape, np.float32)
    infiltration[box] = density
    return Tumour(labels=labels, infiltration=infiltration)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))
