"""Hierarchical voting of several multiclass segmentations (thesis §2.7, Fig. 2.7).

With v_c models voting class c at a voxel (0 background, 1 necrosis/non-enhancing core, 2
edema, 3 enhancing): tumour if (v1+v2+v3)/n ≥ T_tumour; then core if (v1+v3)/(v1+v2+v3) ≥ T_core,
else edema; then enhancing if v3/(v1+v3) ≥ T_enh, else core. Each node counts only the votes
of its parent region, and a child is looked at only where its parent holds, so no
denominator is 0 (spec §8 #10: ≥ with a small epsilon).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from weakseg.errors import WeakSegError

THRESHOLDS = (0.4, 0.3, 0.4)
"""The thesis's T_tumour, T_core, T_enh (low thresholds favour sensitivity)."""


def hierarchical_vote(segmentations: Sequence[np.ndarray], t_tumour: float = THRESHOLDS[0],
                      t_core: float = THRESHOLDS[1], t_enh: float = THRESHOLDS[2], eps: float = 1e-6) -> np.ndarray:
    """uint8 class map (0..3) fused from same-shape class maps; one map is returned unchanged."""
    if not segmentations:
        raise WeakSegError("no segmentations to fuse")
    if not all(0 < t <= 1 for t in (t_tumour, t_core, t_enh)):
        raise WeakSegError("voting thresholds must be in (0, 1]")
    segs = np.stack([np.asarray(s) for s in segmentations])
    if segs.min() < 0 or segs.max() > 3:
        raise WeakSegError("segmentations must hold classes 0..3 (map BraTS label 4 to 3 first)")
    v0, v1, v2, v3 = ((segs == c).sum(0, dtype=np.int32) for c in range(4))
    tumour_votes = v1 + v2 + v3
    tumour = tumour_votes >= t_tumour * len(segs) - eps
    core = tumour & (v1 + v3 >= t_core * tumour_votes - eps)
    enhancing = core & (v3 >= t_enh * (v1 + v3) - eps)
    out = np.zeros(segs.shape[1:], np.uint8)
    out[tumour] = 2
    out[core] = 1
    out[enhancing] = 3
    return out
