"""Random in-plane rotation, scaling and elastic deformation of an OAR training patch.

With a handful of label maps (20 SynthSeg subjects, one atlas, the phantoms), every organ is seen
in a few positions and shapes only; SynthSeg's recipe deforms its label maps for that reason.
The shared augmentation (``weakseg.training.augment``) draws the deformation; here it is applied
to a patch cut with a margin (so rotated corners come from the volume, not from zero padding),
to every array of the patch at once: the image bilinearly, label arrays by nearest neighbour
through one integer code, so a label voxel moves exactly with its image voxel.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from weakseg.training.augment import AugmentConfig, augment, generator_from

SPATIAL_DEFAULTS = {"p_rotate": 0.5, "rotate_degrees": 15.0, "p_scale": 0.5, "scale_range": (0.85, 1.15),
                    "p_elastic": 0.3, "elastic_magnitude": 0.02}
"""Used where ``OARConfig.spatial`` is ``{}``: nnU-Net-like ranges, a little more often than the tumour recipe
(the OAR sources are few); every key can be overridden."""


def spatial_config(options: dict[str, Any]) -> AugmentConfig:
    """The spatial part of an ``AugmentConfig`` from ``OARConfig.spatial``; flips and intensity changes stay
    off (the OAR sampler flips, and synthetic images get their contrast from the painter)."""
    base = AugmentConfig.from_dict({**SPATIAL_DEFAULTS, **options})
    return replace(base, p_flip=0.0, p_gamma=0.0, p_noise=0.0, p_intensity=0.0)


def margin_size(patch: int, config: AugmentConfig) -> int:
    """Side of the patch to cut so that any rotation and zoom-out of it still covers ``patch``."""
    zoom_out = max(1.0, config.scale_range[1]) if config.p_scale > 0 else 1.0
    side = patch * (math.sqrt(2) if config.p_rotate > 0 else 1.0) * zoom_out * (1.1 if config.p_elastic > 0 else 1.0)
    return int(math.ceil(side / 2)) * 2 + (patch % 2)


def warp_patch(image: np.ndarray | None, labels: list[np.ndarray], patch: int, config: AugmentConfig,
               rng: np.random.Generator) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """One random deformation of (image, label arrays), each S × S, then their central ``patch`` × ``patch``.

    ``labels`` are non-negative integer arrays (generation labels, class bits, a strip mask); they are
    packed into one code for the nearest-neighbour pass and unpacked afterwards.
    """
    size = labels[0].shape[0]
    radices = [int(a.max()) + 1 for a in labels]
    if math.prod(radices) >= 2 ** 24:
        raise ValueError("label arrays too many or too large to pack exactly into float32")
    code = np.zeros(labels[0].shape, np.int64)
    for array, radix in zip(labels, radices):
        code = code * radix + array.astype(np.int64)
    images = torch.zeros(1, 1, size, size) if image is None else torch.from_numpy(np.ascontiguousarray(image, np.float32))[None, None]
    out_image, out_code = augment(images, torch.from_numpy(code)[None], config, generator_from(rng))
    lo = (size - patch) // 2
    crop = (slice(lo, lo + patch), slice(lo, lo + patch))
    code = out_code[0].numpy()[crop]
    unpacked = []
    for array, radix in zip(reversed(labels), reversed(radices)):
        unpacked.append((code % radix).astype(array.dtype))
        code = code // radix
    return (None if image is None else out_image[0, 0].numpy()[crop]), unpacked[::-1]
