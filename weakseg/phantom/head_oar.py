"""A head phantom with the organs at risk of cranial radiotherapy (thesis, chapter 4).

The layout is written in millimetres relative to the pituitary (sella turcica) for an
adult head filling a 240 × 240 × 155 mm field of view, then scaled to the configured
field of view. Relations follow anatomy: globes in the orbits with the lens at their
front; optic nerves from the back of each globe, posteromedially through the orbital
fat to the chiasm; the pituitary below the chiasm; the brainstem posterior and inferior;
hippocampi in the medial temporal lobes either side of the brainstem; brain above the
orbits (anterior cranial fossa) and the sella. Structures smaller than a voxel are
thickened to about one voxel so every organ exists even on tiny grids.

The labelmap is exclusive (one value per voxel): where the thesis's classes overlap
(the clinical "brain" contains brainstem and hippocampi; a lens lies in its eye), the
smaller organ wins; ``LABEL_TABLE`` records which labels make up each clinical structure.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from weakseg.errors import WeakSegError
from weakseg.oar.label_table import LABEL_TABLE
from weakseg.phantom.config import PhantomCase, PhantomConfig
from weakseg.phantom.contrast import bias_field
from weakseg.phantom.fields import centred_coordinates, make_grid, signed_distance_mm, smooth_noise, streams, to_image

REFERENCE_FOV_MM = np.array([155.0, 240.0, 240.0])  # z, y, x
SELLA_FROM_CENTRE_MM = np.array([-14.0, -5.0, 0.0])  # z, y, x at reference scale

LABELS = {entry["name"]: entry["value"] for entry in LABEL_TABLE}
CLINICAL_BRAIN = ("Brain", "Brainstem", "Hippocampus_L", "Hippocampus_R")
"""The thesis's 'brain' class (cerebrum + cerebellum + brainstem) is the union of these labels."""

# tissue classes of the head and their relative T1 / T2 signal
AIR, CSF, GM, WM, FAT, MUSCLE, BONE, VITREOUS, LENS, NERVE, PITUITARY = range(11)
T1 = np.array([0.0, 0.30, 0.70, 1.00, 1.35, 0.55, 0.08, 0.20, 0.85, 0.95, 0.80], np.float32)
T2 = np.array([0.0, 2.20, 1.40, 1.00, 0.90, 0.55, 0.06, 2.30, 0.35, 1.00, 1.30], np.float32)
WM_LEVEL = {"t1": 480.0, "t2": 300.0}


class _Canvas:
    """Draws shapes given in reference millimetres (x left, y posterior, z up; origin at the sella)."""

    def __init__(self, shape, spacing):
        self.shape = shape
        self.spacing_zyx = np.array(spacing[::-1], dtype=np.float64)
        fov = np.array(shape) * self.spacing_zyx
        self.scale = float(np.min(fov / REFERENCE_FOV_MM))
        self.sella = [float(v) for v in SELLA_FROM_CENTRE_MM * self.scale]
        self.z, self.y, self.x = centred_coordinates(shape, spacing)
        self.min_radius = 1.0 * float(self.spacing_zyx.max())

    def mm(self, point_xyz) -> list[float]:
        """Grid millimetres (z, y, x) as Python floats, which keep float32 arrays float32."""
        x, y, z = point_xyz
        return [float(v) for v in np.array(self.sella) + self.scale * np.array([z, y, x], dtype=np.float64)]

    def _box(self, lo_mm, hi_mm):
        axes = (self.z.ravel(), self.y.ravel(), self.x.ravel())
        box = []
        for axis, lo, hi in zip(axes, lo_mm, hi_mm):
            i0 = int(np.searchsorted(axis, lo, "left"))
            i1 = int(np.searchsorted(axis, hi, "right"))
            box.append(slice(max(i0 - 1, 0), min(i1 + 1, axis.size)))
        return tuple(box)

    def _local(self, box):
        return self.z[box[0], :, :], self.y[:, box[1], :], self.x[:, :, box[2]]

    def ellipsoid(self, centre_xyz, semi_xyz, wobble: np.ndarray | None = None) -> np.ndarray:
        centre = self.mm(centre_xyz)
        semi = [float(v) for v in np.maximum(self.scale * np.array(semi_xyz[::-1], dtype=np.float64), self.min_radius)]
        out = np.zeros(self.shape, bool)
        box = self._box(np.array(centre) - np.array(semi) * 1.2, np.array(centre) + np.array(semi) * 1.2)
        z, y, x = self._local(box)
        rho = ((z - centre[0]) / semi[0]) ** 2 + ((y - centre[1]) / semi[1]) ** 2 + ((x - centre[2]) / semi[2]) ** 2
        limit = 1.0 if wobble is None else (1.0 + wobble[box]) ** 2
        out[box] = rho < limit
        return out

    def tube(self, points_xyz, radii) -> np.ndarray:
        """Union of cone segments along a polyline, radius interpolated between its points."""
        points = [np.array(self.mm(p)) for p in points_xyz]
        radii = [max(self.scale * r, self.min_radius) for r in radii]
        out = np.zeros(self.shape, bool)
        for a, b, ra, rb in zip(points[:-1], points[1:], radii[:-1], radii[1:]):
            r = max(ra, rb)
            box = self._box(np.minimum(a, b) - r, np.maximum(a, b) + r)
            z, y, x = self._local(box)
            a, d = [float(v) for v in a], [float(v) for v in b - a]
            t = ((z - a[0]) * d[0] + (y - a[1]) * d[1] + (x - a[2]) * d[2]) / max(sum(v * v for v in d), 1e-9)
            t = np.clip(t, 0.0, 1.0)
            dist2 = (z - a[0] - t * d[0]) ** 2 + (y - a[1] - t * d[1]) ** 2 + (x - a[2] - t * d[2]) ** 2
            out[box] |= dist2 < (ra + t * (rb - ra)) ** 2
        return out

    def sigmoid(self, value, width_mm):
        return 1.0 / (1.0 + np.exp(-value / (width_mm * self.scale)))


def _brain(c: _Canvas, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Cerebrum above the skull base (anterior, middle and posterior fossae), cerebellum, brainstem."""
    wobble = 0.03 * smooth_noise(rng, c.shape, 5)
    cerebrum = c.ellipsoid((0, 10, 26), (68, 84, 58), wobble)
    # skull-base floor in reference mm: high over the orbits and the sella, low in the temporal fossae
    x, y, z = c.x / c.scale, (c.y - c.sella[1]) / c.scale, (c.z - c.sella[0]) / c.scale
    behind_orbits = c.sigmoid((y + 25) * c.scale, 4)
    lateral = c.sigmoid((np.abs(x) - 20) * c.scale, 4)
    occipital = c.sigmoid((y - 32) * c.scale, 5)
    floor = 18 * (1 - behind_orbits) + (14 * (1 - lateral) - 22 * lateral) * behind_orbits
    floor = floor * (1 - occipital) - 40 * occipital
    cerebrum &= z > floor
    cerebellum = c.ellipsoid((0, 56, -26), (48, 28, 20), wobble)
    brainstem = c.tube([(0, 12, 14), (0, 20, 0), (0, 24, -14), (0, 28, -32), (0, 30, -52)], [10, 11, 13, 10, 8])
    return cerebrum | cerebellum | brainstem, brainstem


def _head_tissue(c: _Canvas, brain: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    head = c.ellipsoid((0, 8, 22), (80, 100, 80)) | c.ellipsoid((0, -52, -28), (58, 46, 46))
    tissue = np.where(head, MUSCLE, AIR).astype(np.uint8)
    spacing = tuple(c.spacing_zyx[::-1])
    depth_head = signed_distance_mm(head, spacing) / c.scale
    tissue[head & (depth_head < 5)] = FAT  # scalp
    depth = signed_distance_mm(brain, spacing) / c.scale
    outside_brain = -depth
    tissue[head & (depth_head >= 5) & (outside_brain < 9) & (outside_brain > 0)] = BONE
    tissue[head & (outside_brain > 0) & (outside_brain < 2.5)] = CSF
    tissue[c.ellipsoid((0, -12, -16), (14, 12, 10))] = AIR  # sphenoid sinus
    tissue[c.ellipsoid((0, 0, 9), (16, 14, 6))] = CSF  # suprasellar cistern around the chiasm
    for side in (-1, 1):
        tissue[c.ellipsoid((side * 27, -38, 0), (16, 24, 15))] = FAT  # orbit
        tissue[c.ellipsoid((side * 32, -30, -36), (16, 20, 14))] = AIR  # maxillary sinus
    # brain: cortex ribbon with folds, white matter, ventricles
    gyri = smooth_noise(rng, c.shape, 26)
    folds = smooth_noise(rng, c.shape, 30)
    tissue[brain] = WM
    tissue[brain & (depth < 2.5 + 3.5 * np.clip(gyri, 0, None) ** 2)] = GM
    tissue[brain & (np.abs(folds) < 0.12) & (depth < 6)] = CSF
    for side in (-1, 1):
        tissue[c.ellipsoid((side * 9, 12, 34), (7, 30, 9))] = CSF  # lateral ventricles
        tissue[c.ellipsoid((side * 14, 14, 22), (8, 12, 8)) & brain] = GM  # deep grey nuclei
    return tissue


def _organs(c: _Canvas, brain: np.ndarray, brainstem: np.ndarray, tissue: np.ndarray) -> np.ndarray:
    """Draw the organs (smaller organs win), set their tissue, and return the labelmap."""
    labels = np.where(brain, LABELS["Brain"], 0).astype(np.uint8)
    labels[brainstem] = LABELS["Brainstem"]
    tissue[brainstem] = np.where(tissue[brainstem] == CSF, CSF, WM)
    for side, suffix in ((1, "L"), (-1, "R")):  # +x is the patient's left in LPS
        hippocampus = c.tube([(side * 25, 6, -6), (side * 28, 20, -3), (side * 25, 34, 4), (side * 18, 40, 12)],
                             [6, 5, 4, 3])
        labels[hippocampus & brain] = LABELS[f"Hippocampus_{suffix}"]
        tissue[hippocampus & brain] = GM
    chiasm = (c.tube([(7, -6, 9), (-7, 3, 9)], [2.5, 2.5]) | c.tube([(-7, -6, 9), (7, 3, 9)], [2.5, 2.5])
              | c.ellipsoid((0, -1.5, 9), (6, 4, 2)))
    for side, suffix in ((1, "L"), (-1, "R")):
        eye_centre = (side * 32, -50, 0)
        nerve = c.tube([(side * 30, -38, 0), (side * 24, -26, 2), (side * 16, -14, 5), (side * 7, -6, 9)], [2, 2, 2, 2])
        tract = c.tube([(side * 7, 3, 9), (side * 16, 12, 12), (side * 22, 20, 14)], [2, 2, 2])
        labels[nerve & ~chiasm] = LABELS[f"OpticNrv_{suffix}"]
        tissue[nerve | tract] = NERVE
        eye = c.ellipsoid(eye_centre, (12, 12, 12))
        radius_y = max(12 * c.scale, c.min_radius)
        lens_half = max(2 * c.scale, c.min_radius) / c.scale
        chamber = max(3.0, c.min_radius / c.scale)  # anterior chamber: ~3 mm, at least a voxel
        lens_offset = (radius_y / c.scale) - lens_half - chamber
        lens = c.ellipsoid((side * 32, -50 - lens_offset, 0), (4.5, 2, 4.5)) & eye
        labels[eye] = LABELS[f"Eye_{suffix}"]
        tissue[eye] = VITREOUS
        labels[lens] = LABELS[f"Lens_{suffix}"]
        tissue[lens] = LENS
    labels[chiasm] = LABELS["OpticChiasm"]
    tissue[chiasm] = NERVE
    tissue[c.tube([(0, -1, 3), (0, -1.5, 7)], [1.2, 1.2])] = PITUITARY  # infundibulum
    pituitary = c.ellipsoid((0, 0, 0), (6, 5, 3.5))
    labels[pituitary] = LABELS["Pituitary"]
    tissue[pituitary] = PITUITARY
    return labels


def _acquire(tissue: np.ndarray, table: np.ndarray, level: float, texture: np.ndarray, bias: np.ndarray,
             noise: float, rng: np.random.Generator) -> np.ndarray:
    relative = ndi.gaussian_filter(table[tissue], 0.5) * (1.0 + 0.04 * texture)
    signal = relative * level * np.exp(bias)
    sigma = noise * level
    real = signal + sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    imag = sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.clip(np.rint(np.sqrt(real * real + imag * imag)), 0, np.iinfo(np.int16).max).astype(np.int16)


def head_maps(config: PhantomConfig | None = None):
    """(tissue classes, organ labelmap, grid) of the head phantom: what images are drawn from.

    Label-map-driven training (``weakseg.phantom.synth_contrast``) draws new contrasts from
    the tissue map, so the network never sees only this phantom's fixed T1/T2 table.
    """
    config = config or PhantomConfig()
    if config.template != "none":
        raise WeakSegError(f"the head phantom has no '{config.template}' template variant; use template 'none'")
    shape, spacing = tuple(int(n) for n in config.shape), config.spacing_xyz
    if len(shape) != 3 or min(shape) < 16:
        raise WeakSegError(f"head phantom shape {shape} is too small; need (z, y, x) with every side >= 16")
    anatomy_rng = streams(config.seed, "head", 3)[0]
    canvas = _Canvas(shape, spacing)
    brain, brainstem = _brain(canvas, anatomy_rng)
    tissue = _head_tissue(canvas, brain, anatomy_rng)
    labels = _organs(canvas, brain, brainstem, tissue)
    return tissue, labels, make_grid(shape, spacing)


def make_head_case(config: PhantomConfig | None = None) -> PhantomCase:
    """T1 and T2 of a head with the organs at risk labelled (``LABEL_TABLE``), deterministic from the seed."""
    config = config or PhantomConfig()
    tissue, labels, grid = head_maps(config)
    shape = tissue.shape
    _, texture_rng, noise_rng = streams(config.seed, "head", 3)
    texture = smooth_noise(texture_rng, shape, np.array(shape) / 3.0)
    bias = bias_field(texture_rng, shape, config.bias)
    images = {name: to_image(_acquire(tissue, table, WM_LEVEL[name], texture, bias, config.noise, noise_rng), grid)
              for name, table in (("t1", T1), ("t2", T2))}
    clinical_brain = np.isin(labels, [LABELS[n] for n in CLINICAL_BRAIN])
    return PhantomCase(
        case_id=config.case_id or f"HeadPhantom_{config.seed:04d}",
        kind="head",
        images=images,
        labels=to_image(labels, grid),
        brain_mask=to_image(clinical_brain.astype(np.uint8), grid),
        config=config,
        label_table=[dict(entry) for entry in LABEL_TABLE],
    )
