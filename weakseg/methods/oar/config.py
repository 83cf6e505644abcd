"""The OAR method's settings (thesis ch. 4; choices the thesis leaves open follow its §8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weakseg.errors import WeakSegError
from weakseg.methods.options import Options
from weakseg.oar.classes import CLASSES, CONTAINMENT

ORIENTATIONS = ("axial", "coronal", "sagittal")
RULES = ("eye/lens",)
"""Containment rules on by default: the thesis's own (lens negative outside an annotated eye)."""


@dataclass
class OARConfig(Options):
    """Settings of ``weakseg train --method oar``.

    base/depth: U-Net width and poolings (thesis: 64 and 4; 16 fits a CPU). patch: side of the
    2D training patches (thesis 230; 128 at 1 mm here). batch: patches per batch, the first
    ``len(CLASSES)`` centred on each class in turn, the rest on the brain (thesis M = 10).
    target_weight: t_c per class (§8 #12: 0.3; 0.5 for the thin lens, nerve and chiasm).
    containment: rules 'known/unknown' from ``weakseg.oar.classes.CONTAINMENT`` that rebuild
    missing labels (opt-in beyond the thesis's 'eye/lens'). orientations: the slice
    orientations trained (one shared network) and voted at inference.
    sources: label-map sources to draw synthetic images from, e.g. ``{"root": "../shared/data/oar",
    "phantoms": 8}`` (``weakseg.phantom.label_sources``), used beside or instead of the dataset.
    inputs: the MR sequences accepted at inference, in order of preference (one is used).
    spatial: random rotation / scaling / elastic deformation of each patch (``weakseg.methods.oar.warp``):
    None = off (the models shipped before it), ``{}`` = its defaults, or ``AugmentConfig`` spatial fields.
    tie_jitter: labels that share a T1 prior share its jitter (``SynthConfig.tie_jitter``; off in the
    models shipped before it).
    """

    OPTIONS_OF = "option(s) for method 'oar'"

    base: int = 16
    depth: int = 4
    patch: int = 128
    batch: int = 10
    target_weight: tuple[float, ...] = (0.3, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3)
    containment: tuple[str, ...] = RULES
    orientations: tuple[str, ...] = ORIENTATIONS
    flip: float = 0.5
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    sources: dict[str, Any] | None = None
    inputs: tuple[str, ...] = ("t1c", "t1")
    synth_prior_fraction: float = 0.6
    strip_fraction: float = 0.25
    real_fraction: float = 0.5
    spatial: dict[str, Any] | None = None
    tie_jitter: bool = False

    def __post_init__(self) -> None:
        self.target_weight = tuple(float(t) for t in self.target_weight)
        self.containment = tuple(self.containment)
        self.orientations = tuple(self.orientations)
        self.inputs = tuple(self.inputs)
        if len(self.target_weight) != len(CLASSES) or not all(0 < t < 1 for t in self.target_weight):
            raise WeakSegError(f"target_weight needs {len(CLASSES)} values in (0, 1)")
        for rule in self.containment:
            pair = tuple(rule.split("/"))
            if pair not in CONTAINMENT:
                raise WeakSegError(f"unknown containment rule '{rule}' (known: "
                                   f"{', '.join('/'.join(k) for k in CONTAINMENT)})")
        if not self.orientations or set(self.orientations) - set(ORIENTATIONS):
            raise WeakSegError(f"orientations must be among {', '.join(ORIENTATIONS)}")
        if self.batch < len(CLASSES):
            raise WeakSegError(f"batch must hold at least one patch per class ({len(CLASSES)})")
        if self.patch % (2 ** self.depth):
            raise WeakSegError(f"patch {self.patch} must be a multiple of {2 ** self.depth}")
        if self.spatial is not None:
            from weakseg.methods.oar.warp import spatial_config

            if not isinstance(self.spatial, dict):
                raise WeakSegError("spatial must be an object of augmentation settings (or null for none)")
            spatial_config(self.spatial)  # unknown keys and bad probabilities are refused here, before training
        if self.schedule not in ("cosine", "none"):
            raise WeakSegError(f"unknown schedule '{self.schedule}' (expected cosine or none)")

    def rules(self) -> list[tuple[str, str, str]]:
        """(known class, unknown class, 'inside'|'outside') for each enabled containment rule."""
        out = []
        for rule in self.containment:
            known, unknown = rule.split("/")
            out.append((known, unknown, CONTAINMENT[(known, unknown)]))
        return out

