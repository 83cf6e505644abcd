"""Per-scan threshold relaxation: an organ every head has is not reported far smaller than in any training head.

The per-class thresholds are calibrated on painted training volumes, where the network is over-confident
(0.95-0.998). On a real scan its probabilities inside an organ are lower, and at those thresholds an organ
comes out a fraction of its size (docs/results/oar.md: hippocampi at tolerant PPV 1.00, sensitivity 0.13-0.17;
a lens that peaks at 0.99 under a 0.998 threshold). With a floor in the model card, a class whose vote
volume is below its floor is voted again at the next lower threshold, down to ``lowest``, until it reaches the
floor. The floors are half the smallest volume among the training sources (``experiments/oar_calibrate.py
--volume-floor``), so a head the model segments as it was trained to is left alone. Every relaxed class is
named in the result's warnings for the reviewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from weakseg.oar.classes import CLASSES
from weakseg.oar.rules import majority_vote

STEPS = (0.998, 0.995, 0.99, 0.98, 0.97, 0.95, 0.9, 0.8, 0.7, 0.5)
"""The thresholds tried, from strict to lenient (the calibration grid)."""


@dataclass(frozen=True)
class VolumeFloor:
    """``min_ml``: per class (both sides together), the volume below which lower thresholds are tried."""

    min_ml: dict[str, float] = field(default_factory=dict)
    lowest: float = 0.5

    @classmethod
    def from_card(cls, card) -> VolumeFloor | None:
        spec = (card.inference or {}).get("volume_floor")
        if not spec:
            return None
        unknown = set(spec.get("min_ml", {})) - set(CLASSES)
        if unknown:
            raise ValueError(f"model card volume_floor names unknown classes: {', '.join(sorted(unknown))}")
        return cls({k: float(v) for k, v in spec["min_ml"].items()}, float(spec.get("lowest", 0.5)))


def relax(probabilities: dict[str, np.ndarray], thresholds: list[float], floor: VolumeFloor,
          voxel_ml: float = 0.001) -> tuple[list[float], dict[str, tuple[float, float]]]:
    """(thresholds, {class: (calibrated, used)} for the classes relaxed) on one scan's probabilities."""
    out = list(thresholds)
    relaxed = {}
    for c, name in enumerate(CLASSES):
        need = floor.min_ml.get(name)
        if not need:
            continue
        t = thresholds[c]
        volume = majority_vote([p[c] > t for p in probabilities.values()]).sum() * voxel_ml
        for step in (s for s in STEPS if floor.lowest <= s < thresholds[c]):
            if volume >= need:
                break
            t = step
            volume = majority_vote([p[c] > t for p in probabilities.values()]).sum() * voxel_ml
        if t != thresholds[c]:
            out[c] = t
            relaxed[name] = (thresholds[c], t)
    return out, relaxed


def warning(relaxed: dict[str, tuple[float, float]]) -> str | None:
    """One line for the reviewer, or None."""
    if not relaxed:
        return None
    return ("thresholds lowered on this scan (the organ was far smaller than in any training head), review: " +
            ", ".join(f"{name} {a:g} -> {b:g}" for name, (a, b) in relaxed.items()))
