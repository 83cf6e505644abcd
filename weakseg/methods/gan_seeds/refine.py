"""Stage 6 (§2.6): seed refinement — keep the S0 components whose removal makes C say 'no tumour'.

For every image of X_C, each connected component of S0 > 0.5 is dilated by disks of radius
1–5 px; the image times the inverse of each dilated mask goes through C, and a component whose
mean probability over the radii is below 0.5 "covers the tumour": it becomes a positive seed.
Images with at least one accepted component form X_C,r; the refined positive seed is the union of
the accepted (undilated) components, and those pixels leave the negative seed (spec §5 item 11).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from skimage.morphology import disk


@torch.no_grad()
def refine_seeds(classifier, x: np.ndarray, x_c: np.ndarray, m0: np.ndarray, negative: np.ndarray,
                 radii: tuple[int, ...]) -> dict[str, np.ndarray]:
    classifier.eval()
    positive_r = np.zeros(m0.shape, bool)
    accepted = np.zeros(len(x), bool)
    components = 0
    for k in np.flatnonzero(x_c):
        labels, n = ndimage.label(m0[k] > 0.5)
        components += n
        for c in range(1, n + 1):
            comp = labels == c
            dilated = np.stack([ndimage.binary_dilation(comp, disk(r)) for r in radii])
            inputs = torch.from_numpy(x[k][None] * (1 - dilated[:, None]).astype(np.float32))
            if classifier.probability(inputs).mean().item() < 0.5:
                positive_r[k] |= comp
                accepted[k] = True
    return {"positive": positive_r, "negative": negative & ~positive_r, "accepted": accepted,
            "components": np.array(components)}
