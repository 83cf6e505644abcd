"""Optic nerves by landmarks, fat refinement, a shortest path and ball reconstruction (thesis §4.4 step 6).

Per side: L1 (eye end) and L2 (chiasm end) landmarks; nerve voxels brighter than 0.8 × the
98 % quantile of T1 around L1 are dropped (orbital fat is bright); Dijkstra from L1 to L2 on
the voxel graph whose edges go strictly posterior (y + 1) with dx, dz in {-1, 0, 1}, each edge
weighing its destination's cost (``skimage.graph.MCP``); balls along the path rebuild the
nerve; three 1D openings and the largest component cut bridges to look-alikes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from weakseg.oar.rules import largest_component


@dataclass(frozen=True)
class NerveConfig:
    """The thesis's constants (§4.4, §8 #17-19); radii in voxels of its 0.7 mm grid, times ``scale``
    (0.7 / this grid's spacing: ``for_spacing``) so the balls keep their size in millimetres."""

    landmark_voxels: int = 30
    fat_cube: int = 15
    fat_quantile: float = 0.98
    fat_factor: float = 0.8
    label_cost: float = 100.0
    target_cost: float = 0.001
    radius_eye: float = 7.0
    radius_chiasm: float = 3.0
    core_radius: float = 2.5
    margin: int = 7
    close_mm: float = 4.0
    scale: float = 1.0

    @classmethod
    def for_spacing(cls, spacing_mm: float, **kwargs) -> "NerveConfig":
        return cls(scale=0.7 / float(spacing_mm), **kwargs)

    def r(self, value: float) -> float:
        return value * self.scale


def landmark(candidates: np.ndarray, towards: np.ndarray, n: int) -> np.ndarray | None:
    """Barycentre (z, y, x) of the ``n`` voxels of ``candidates`` closest to ``towards``."""
    from weakseg.oar.rules import box_of

    if not candidates.any() or not towards.any():
        return None
    box = box_of(candidates, towards)
    local_c, local_t = candidates[box], towards[box]
    distance = ndi.distance_transform_edt(~local_t)
    points = np.argwhere(local_c)
    nearest = np.argsort(distance[local_c], kind="stable")[:n]
    return points[nearest].mean(0) + [b.start for b in box]


def fat_refine(nerve: np.ndarray, image: np.ndarray, l1: np.ndarray, config: NerveConfig = NerveConfig()) -> np.ndarray:
    """Nerve voxels no brighter than ``fat_factor`` × the quantile of the image in a cube around L1."""
    half = int(round(config.r(config.fat_cube))) // 2
    centre = np.round(l1).astype(int)
    box = tuple(slice(max(c - half, 0), c + half + 1) for c in centre)
    q = float(np.quantile(image[box], config.fat_quantile)) if image[box].size else np.inf
    return nerve & (image <= config.fat_factor * q)


def radius_at(y: float, y1: float, y2: float, config: NerveConfig = NerveConfig()) -> float:
    """R(y): linear from ``radius_eye`` at L1 to ``radius_chiasm`` at L2."""
    t = 0.0 if y2 == y1 else float(np.clip((y - y1) / (y2 - y1), 0, 1))
    return config.r(config.radius_eye + (config.radius_chiasm - config.radius_eye) * t)


def centreline(positive: np.ndarray, l1: np.ndarray, l2: np.ndarray, config: NerveConfig = NerveConfig()) -> np.ndarray:
    """Voxel path (k, 3) from L1 to L2 through ``positive``, one voxel per y layer (Dijkstra on the directed graph).

    A target outside the reachable cone (|dx| or |dz| > dy) is replaced by the cone's closest
    node in L2's layer, and the gap is bridged by a straight line (§8 #17).
    """
    from skimage.graph import MCP

    p1, p2 = np.round(l1).astype(int), np.round(l2).astype(int)
    if p2[1] <= p1[1]:
        raise ValueError("L2 must lie posterior to L1 (y increasing from eye to chiasm)")
    dy = p2[1] - p1[1]
    reach = np.clip(p2, p1 - [dy, 0, dy], p1 + [dy, 0, dy])
    reach[1] = p2[1]
    m = max(1, int(round(config.r(config.margin))))
    lo = np.maximum(np.minimum(p1, reach) - [m, 0, m], 0)
    hi = np.minimum(np.maximum(p1, reach) + [m, 0, m] + 1, positive.shape)
    roi = tuple(slice(a, b) for a, b in zip(lo, hi))
    pos = positive[roi]
    border = ndi.distance_transform_edt(pos)
    z, y, x = np.indices(pos.shape)
    y_abs = y + lo[1]
    radius = config.r(config.radius_eye + (config.radius_chiasm - config.radius_eye) * np.clip((y_abs - p1[1]) / dy, 0, 1))
    target = reach - lo
    cost = (np.where(pos, 0.0, config.label_cost) + np.where(pos, radius - np.minimum(border, radius), 0.0)
            + config.target_cost * np.sqrt((z - target[0]) ** 2 + (y - target[1]) ** 2 + (x - target[2]) ** 2))
    offsets = [(dz, 1, dx) for dz in (-1, 0, 1) for dx in (-1, 0, 1)]
    graph = MCP(cost + 1e-6, offsets=offsets, fully_connected=False)
    start, end = tuple(p1 - lo), tuple(target)
    graph.find_costs([start], [end])
    path = np.array(graph.traceback(end)) + lo
    if not np.array_equal(reach, p2):
        steps = int(np.abs(p2 - reach).max())
        bridge = np.round(np.linspace(reach, p2, steps + 1)[1:]).astype(int)
        path = np.vstack([path, bridge])
    return path


def _balls(shape, points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, bool)
    for p, r in zip(points, radii):
        ri = int(np.ceil(r))
        lo = np.maximum(p - ri, 0)
        hi = np.minimum(p + ri + 1, shape)
        zz, yy, xx = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        out[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] |= (zz - p[0]) ** 2 + (yy - p[1]) ** 2 + (xx - p[2]) ** 2 <= r * r
    return out


def reconstruct(path: np.ndarray, refined: np.ndarray, l1: np.ndarray, l2: np.ndarray,
                config: NerveConfig = NerveConfig()) -> np.ndarray:
    """Balls S1 (radius 2.5 thesis voxels, always positive) and S2 (R(y), positive where ``refined`` is) along the path,
    then openings by 2-voxel line elements along x, y and z and the largest component."""
    radii = np.array([radius_at(p[1], l1[1], l2[1], config) for p in path])
    core = _balls(refined.shape, path, np.full(len(path), config.r(config.core_radius)))
    out = core | (_balls(refined.shape, path, radii) & refined)
    for element in (np.ones((2, 1, 1), bool), np.ones((1, 2, 1), bool), np.ones((1, 1, 2), bool)):
        out = ndi.binary_opening(out, structure=element)
    return largest_component(out)


def optic_nerve(nerve: np.ndarray, eye: np.ndarray, chiasm_side: np.ndarray, image: np.ndarray,
                config: NerveConfig = NerveConfig()) -> np.ndarray:
    """One side's nerve rebuilt from eye to chiasm; the initial mask is returned unchanged when a landmark
    is missing or the eye is not anterior to the chiasm."""
    l1 = landmark(nerve, eye, config.landmark_voxels)
    l2 = landmark(chiasm_side, nerve, config.landmark_voxels) if l1 is not None else None
    if l1 is None or l2 is None or round(l2[1]) <= round(l1[1]):
        return nerve
    refined = fat_refine(nerve, image, l1, config)
    path = centreline(refined, l1, l2, config)
    return reconstruct(path, refined, l1, l2, config)
