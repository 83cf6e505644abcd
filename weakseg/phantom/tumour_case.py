"""``make_tumour_case``: a brain with a glioblastoma-like tumour, four sequences and ground truth."""

from __future__ import annotations

import numpy as np

from weakseg import SEQUENCES
from weakseg.errors import WeakSegError
from weakseg.phantom import contrast
from weakseg.phantom.anatomy import procedural_brain
from weakseg.phantom.config import TEMPLATES, PhantomCase, PhantomConfig
from weakseg.phantom.fields import make_grid, smooth_noise, streams, to_image
from weakseg.phantom.physiology import physiological_maps
from weakseg.phantom.tumour import make_tumour


def make_tumour_case(config: PhantomConfig | None = None) -> PhantomCase:
    """A skull-stripped brain with a tumour, deterministic from ``config.seed``.

    ``config.template`` chooses the anatomy: "none" draws a procedural brain on
    ``config.shape``; "mni152" uses nilearn's MNI152 template on the BraTS grid.
    """
    config = config or PhantomConfig()
    if config.template not in TEMPLATES:
        raise WeakSegError(f"unknown phantom template '{config.template}' (expected one of {', '.join(TEMPLATES)})")
    anatomy_rng, tumour_rng, texture_rng, noise_rng, physio_rng = streams(config.seed, "tumour", 5)
    if config.template == "mni152":
        from weakseg.phantom.template import mni152_brain

        brain, shape, spacing = mni152_brain(config)
    else:
        shape, spacing = tuple(int(n) for n in config.shape), config.spacing_xyz
        if len(shape) != 3 or min(shape) < 8:
            raise WeakSegError(f"phantom shape {shape} is too small; need (z, y, x) with every side >= 8")
        brain = procedural_brain(shape, spacing, anatomy_rng)
    grid = make_grid(shape, spacing)
    tumour = make_tumour(brain, tumour_rng, shape, spacing)

    fine = smooth_noise(texture_rng, shape, np.array(shape) / 3.0)
    bias_shared = contrast.bias_field(texture_rng, shape, config.bias)
    weights = contrast.tumour_weights(tumour.labels)
    images = {}
    for sequence in SEQUENCES:
        if brain.t1 is not None and sequence in ("t1", "t1c"):  # real T1 anatomy; normal tissue barely enhances
            relative = brain.t1 * (1.0 + 0.04 * fine)
        else:
            relative = contrast.tissue_signal(brain.fractions, sequence, fine)
        relative = contrast.add_tumour(relative, weights, sequence, fine)
        bias = bias_shared + contrast.bias_field(texture_rng, shape, config.bias * 0.3)
        voxels = contrast.acquire(relative, brain.mask, sequence, noise_rng, bias, config.noise)
        images[sequence] = to_image(voxels, grid)

    maps = {}
    if config.physiology:
        coherence = np.clip(1.0 + 0.15 * smooth_noise(physio_rng, shape, 8), 0.6, 1.3)
        head_scale = np.mean(np.array(shape[1:]) * np.array(spacing[1::-1])) / 240.0  # 1 for a BraTS field of view
        fwhm_voxels = config.physiology_blur * head_scale / float(np.mean(spacing[:2]))
        maps = physiological_maps(brain.fractions, tumour.labels, tumour.infiltration, brain.mask, coherence,
                                  physio_rng, fwhm_voxels)
    return PhantomCase(
        case_id=config.identifier,
        kind="tumour",
        images=images,
        labels=to_image(tumour.labels, grid),
        brain_mask=to_image(brain.mask.astype(np.uint8), grid),
        config=config,
        infiltration=to_image(tumour.infiltration, grid),
        physiology={name: to_image(values, grid) for name, values in maps.items()},
        tissue=to_image(np.where(brain.mask, brain.fractions.argmax(axis=0) + 1, 0).astype(np.uint8), grid),
    )
