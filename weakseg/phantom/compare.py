"""How a case's contrasts compare with another's: per-class medians relative to white matter.

Normal tissue is split into CSF / GM / WM by a 3-class Otsu threshold on T1 (outside the
tumour labels), so the same measure applies to real BraTS cases and to phantoms; this is
how the phantom's global contrasts (``contrast.CONTRAST``) were tuned.
"""

from __future__ import annotations

import numpy as np
from skimage.filters import threshold_multiotsu

CLASSES = ("csf", "gm", "wm", "ncr", "ed", "et")


def relative_medians(images: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, dict[str, float]]:
    """{sequence: {class: median / WM median}} plus 'wm_level' (the WM median itself).

    ``images`` holds (z, y, x) arrays with 0 outside the brain; ``labels`` uses 1/2 and 4 or 3.
    """
    t1 = np.asarray(images["t1"], dtype=np.float32)
    normal = (t1 > 0) & (labels == 0)
    low, high = threshold_multiotsu(t1[normal][::7], classes=3)
    masks = {"csf": normal & (t1 < low), "gm": normal & (t1 >= low) & (t1 < high), "wm": normal & (t1 >= high),
             "ncr": labels == 1, "ed": labels == 2, "et": (labels == 4) | (labels == 3)}
    out: dict[str, dict[str, float]] = {}
    for name, image in images.items():
        values = np.asarray(image, dtype=np.float32)
        wm = float(np.median(values[masks["wm"]]))
        out[name] = {k: float(np.median(values[m])) / wm if m.any() else float("nan") for k, m in masks.items()}
        out[name]["wm_level"] = wm
    return out
