"""Spatial and intensity augmentation of a training batch, 2D slices or 3D patches alike.

Few training cases (22) need augmentation to generalise (nnU-Net's recipe: flips, rotation,
scaling, elastic deformation, gamma, noise, brightness). Everything is done on the whole
batch with ``torch.nn.functional.affine_grid``/``grid_sample`` (one vectorised call, cheap
on a CPU core, no extra dependency). Images and label maps are resampled through the *same*
grid (bilinear for images, nearest for labels), so they stay aligned. Randomness comes from
a ``torch.Generator`` seeded by the caller, so a resumed run draws the same augmentations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F

from weakseg.errors import WeakSegError


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities (per sample) and ranges; defaults follow nnU-Net's, milder for small 2D slices.

    flip_axes: spatial axes that may be mirrored, counted from the last (-1 = x, left-right);
    rotate_degrees: in-plane rotation range (+/-); for 3D also the small out-of-plane tilt range
      ``tilt_degrees``; scale_range: isotropic zoom; elastic_magnitude: displacement standard
      deviation as a fraction of the image half-width, on a coarse ``elastic_grid`` of control
      points upsampled smoothly; gamma_range: brightness-curve exponent applied per channel to the
      brain voxels (min-max scaled); noise_std: Gaussian noise (in normalised intensity units);
      intensity_scale / intensity_shift: per-channel multiplicative and additive changes.
    """

    p_flip: float = 0.5
    flip_axes: tuple[int, ...] = (-1,)
    p_rotate: float = 0.3
    rotate_degrees: float = 15.0
    tilt_degrees: float = 5.0
    p_scale: float = 0.3
    scale_range: tuple[float, float] = (0.85, 1.15)
    p_elastic: float = 0.2
    elastic_magnitude: float = 0.02
    elastic_grid: int = 5
    p_gamma: float = 0.3
    gamma_range: tuple[float, float] = (0.7, 1.5)
    p_noise: float = 0.15
    noise_std: float = 0.1
    p_intensity: float = 0.3
    intensity_scale: float = 0.1
    intensity_shift: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.startswith("p_") and not 0.0 <= getattr(self, f.name) <= 1.0:
                raise WeakSegError(f"augmentation probability {f.name} must be in [0, 1], got {getattr(self, f.name)}")
        object.__setattr__(self, "flip_axes", tuple(int(a) for a in self.flip_axes))
        object.__setattr__(self, "scale_range", tuple(float(v) for v in self.scale_range))
        object.__setattr__(self, "gamma_range", tuple(float(v) for v in self.gamma_range))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "AugmentConfig":
        data = dict(data or {})
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise WeakSegError(f"unknown augmentation option(s): {', '.join(unknown)}")
        return cls(**data)

    def describe(self) -> str:
        return (f"flips (p {self.p_flip}), rotation ±{self.rotate_degrees:g}° (p {self.p_rotate}), scaling "
                f"{self.scale_range[0]:g}–{self.scale_range[1]:g} (p {self.p_scale}), elastic (p {self.p_elastic}), "
                f"gamma {self.gamma_range[0]:g}–{self.gamma_range[1]:g} (p {self.p_gamma}), Gaussian noise σ "
                f"{self.noise_std:g} (p {self.p_noise}), brightness ±{self.intensity_scale:g}/±{self.intensity_shift:g} "
                f"(p {self.p_intensity}); intensity changes inside the brain only")


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)


def _chosen(n: int, p: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) < p


def _rotation(angles: torch.Tensor, nd: int, axes: tuple[int, int]) -> torch.Tensor:
    """[B, nd, nd] rotations by ``angles`` in the plane of grid coordinates ``axes``."""
    r = torch.eye(nd, dtype=torch.float64).repeat(len(angles), 1, 1)
    c, s = torch.cos(angles), torch.sin(angles)
    i, j = axes
    r[:, i, i], r[:, i, j], r[:, j, i], r[:, j, j] = c, -s, s, c
    return r


def random_affine(batch: int, nd: int, config: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """[B, nd, nd+1] sampling matrices in ``affine_grid``'s normalised (x, y[, z]) coordinates."""
    a = torch.eye(nd, dtype=torch.float64).repeat(batch, 1, 1)
    rotate = _chosen(batch, config.p_rotate, g)
    angles = torch.where(rotate, _uniform(batch, -1, 1, g) * math.radians(config.rotate_degrees), torch.zeros(batch, dtype=torch.float64))
    a = a @ _rotation(angles, nd, (0, 1))  # in-plane (x, y): axial for both 2D slices and 3D patches
    if nd == 3:
        for axes in ((0, 2), (1, 2)):
            tilt = torch.where(rotate, _uniform(batch, -1, 1, g) * math.radians(config.tilt_degrees),
                               torch.zeros(batch, dtype=torch.float64))
            a = a @ _rotation(tilt, nd, axes)
    scale = torch.where(_chosen(batch, config.p_scale, g), _uniform(batch, *config.scale_range, g),
                        torch.ones(batch, dtype=torch.float64))
    a = a / scale[:, None, None]  # sampling a smaller region zooms in
    for axis in config.flip_axes:
        column = -1 - axis if axis < 0 else nd - 1 - axis  # array axis -1 is grid coordinate 0 (x)
        if not 0 <= column < nd:
            raise WeakSegError(f"flip axis {axis} does not exist for {nd}D data")
        sign = torch.where(_chosen(batch, config.p_flip, g), -1.0, 1.0).to(torch.float64)
        a[:, :, column] = a[:, :, column] * sign[:, None]
    return torch.cat([a, torch.zeros(batch, nd, 1, dtype=torch.float64)], 2).float()


def _elastic(grid: torch.Tensor, config: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Add a smooth random displacement (coarse Gaussian control points, upsampled) to chosen samples."""
    batch, nd = grid.shape[0], grid.shape[-1]
    chosen = _chosen(batch, config.p_elastic, g)
    if not chosen.any() or config.elastic_magnitude <= 0:
        return grid
    spatial = grid.shape[1:-1]
    coarse = torch.randn(batch, nd, *([config.elastic_grid] * nd), generator=g) * config.elastic_magnitude
    mode = "bilinear" if nd == 2 else "trilinear"
    field = F.interpolate(coarse, size=spatial, mode=mode, align_corners=True)
    field = field.movedim(1, -1) * chosen.view(batch, *([1] * (nd + 1))).float()
    return grid + field


def _intensity(images: torch.Tensor, brain: torch.Tensor, config: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Gamma, brightness and noise per sample and channel, inside the brain; background stays 0."""
    b, c = images.shape[:2]
    spatial_dims = tuple(range(2, images.ndim))
    shape = (b, c, *([1] * (images.ndim - 2)))
    mask = brain[:, None].expand_as(images)
    big = torch.finfo(images.dtype).max
    gamma_on = _chosen(b * c, config.p_gamma, g).view(shape)
    if gamma_on.any():
        low = torch.where(mask, images, torch.full_like(images, big)).amin(spatial_dims, keepdim=True)
        high = torch.where(mask, images, torch.full_like(images, -big)).amax(spatial_dims, keepdim=True)
        span = (high - low).clamp(min=1e-6)
        gamma = _uniform(b * c, *config.gamma_range, g).float().view(shape)
        curved = ((images - low) / span).clamp(0, 1) ** gamma * span + low
        images = torch.where(gamma_on & mask, curved, images)
    bright_on = _chosen(b * c, config.p_intensity, g).view(shape).float()
    factor = 1 + bright_on * _uniform(b * c, -1, 1, g).float().view(shape) * config.intensity_scale
    shift = bright_on * _uniform(b * c, -1, 1, g).float().view(shape) * config.intensity_shift
    images = images * factor + shift
    noise_on = _chosen(b, config.p_noise, g).view(b, *([1] * (images.ndim - 1))).float()
    images = images + noise_on * torch.randn(images.shape, generator=g) * config.noise_std
    return images * mask


def augment(images: torch.Tensor, masks: torch.Tensor | None, config: AugmentConfig,
            g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Augment images [B,C,*S] (float) and label maps [B',*S] (integer, B' <= B: the first B' samples).

    Returns new tensors; label maps are resampled with nearest-neighbour through the same
    grid as their images, so a label voxel moves exactly where its image voxel moves.
    """
    if images.ndim not in (4, 5):
        raise WeakSegError(f"augment expects [B,C,H,W] or [B,C,D,H,W] images, got shape {tuple(images.shape)}")
    batch, nd = images.shape[0], images.ndim - 2
    if masks is not None and (masks.shape[0] > batch or tuple(masks.shape[1:]) != tuple(images.shape[2:])):
        raise WeakSegError(f"label maps {tuple(masks.shape)} do not match images {tuple(images.shape)}")
    theta = random_affine(batch, nd, config, g)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    grid = _elastic(grid, config, g)
    images = images.float()
    brain_before = (images != 0).any(1, keepdim=True).float()
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    brain = F.grid_sample(brain_before, grid, mode="nearest", padding_mode="zeros", align_corners=False)[:, 0] > 0
    out_masks = None
    if masks is not None:
        n = masks.shape[0]
        sampled = F.grid_sample(masks[:, None].float(), grid[:n], mode="nearest", padding_mode="zeros",
                                align_corners=False)
        out_masks = sampled[:, 0].round().to(masks.dtype)
    return _intensity(out, brain, config, g), out_masks


def generator_from(rng) -> torch.Generator:
    """A torch generator seeded from a numpy ``Generator`` (the engine's per-iteration one)."""
    return torch.Generator().manual_seed(int(rng.integers(0, 2 ** 62)))
