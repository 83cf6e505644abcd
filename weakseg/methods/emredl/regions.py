"""ROI1/ROI2/ROI3 from the two masks an annotator draws (paper 000 §4.3, spec §7).

ROI1 = enhancing core (label 1, observed); ROI2 = FLAIR abnormality minus the core (label
unknown); ROI3 = brain minus the FLAIR abnormality (label 0, observed). The core must lie
inside the FLAIR mask: a core voxel outside it means the masks were swapped or drawn on
different images, and guessing would silently change what is called infiltration.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from weakseg.errors import WeakSegError
from weakseg.labels.schema import OUTSIDE, ROI1, ROI2, ROI3


def check_core_in_flair(core: np.ndarray, flair: np.ndarray, where=None) -> None:
    core, flair = np.asarray(core, bool), np.asarray(flair, bool)
    if not core.any():
        raise WeakSegError("the core mask is empty; draw the enhancing core (ROI1)", where)
    outside = int(np.count_nonzero(core & ~flair))
    if outside:
        raise WeakSegError(f"{outside} of {int(core.sum())} core voxels lie outside the FLAIR mask; the FLAIR "
                           "abnormality must contain the core (were the masks swapped or drawn on other images?)", where)


def regions_from_masks(core: np.ndarray, flair: np.ndarray, brain: np.ndarray | None = None,
                       roi3_erosion: int = 0, where=None) -> np.ndarray:
    """uint8 map (0 outside, 1 ROI1, 2 ROI2, 3 ROI3) as the weak-label store's 'regions' kind holds it."""
    core, flair = np.asarray(core, bool), np.asarray(flair, bool)
    check_core_in_flair(core, flair, where)
    brain = np.ones(core.shape, bool) if brain is None else np.asarray(brain, bool)
    normal = brain & ~flair
    if roi3_erosion:  # optional safety margin away from the FLAIR boundary (spec §6.8)
        normal &= ~ndi.binary_dilation(flair, iterations=roi3_erosion)
    out = np.full(core.shape, OUTSIDE, np.uint8)
    out[normal] = ROI3
    out[flair & ~core] = ROI2
    out[core] = ROI1
    return out


def masks_from_regions(regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(core, FLAIR) masks back from a region map."""
    regions = np.asarray(regions)
    return regions == ROI1, np.isin(regions, (ROI1, ROI2))
