"""The §4.4 rules in the thesis's order, from the voted class masks to one mask per output organ.

``postprocess`` can also return a snapshot of the organs after each rule, which
docs/results/oar.md scores step by step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weakseg.oar import rules
from weakseg.oar.classes import CLASSES
from weakseg.oar.optic_nerve import NerveConfig, optic_nerve


@dataclass(frozen=True)
class PostConfig:
    """min_eye_ml: eyes smaller than this are removed (thesis 4 cm³); largest_rest: also keep the largest
    component per side for hippocampus and the largest for brainstem and pituitary ([rec], not in the thesis)."""

    min_eye_ml: float = 4.0
    largest_rest: bool = True
    nerve: NerveConfig | None = None
    """None: the thesis's constants scaled to the grid's spacing."""


def organs_from_classes(masks: dict[str, np.ndarray], brain: np.ndarray, left_is_high_x: bool) -> dict[str, np.ndarray]:
    """Organs without any rule but the side split (the 'vote' row of the results)."""
    out = {"Brain": masks["brain"], "OpticChiasm": masks["optic chiasm"], "Pituitary": masks["pituitary gland"],
           "Brainstem": masks["brainstem"]}
    for cls, name in (("eye", "Eye"), ("lens", "Lens"), ("optic nerve", "OpticNrv"), ("hippocampus", "Hippocampus")):
        out[f"{name}_L"], out[f"{name}_R"] = rules.split_left_right(masks[cls], brain, left_is_high_x)
    return out


def postprocess(masks: dict[str, np.ndarray], image: np.ndarray, spacing_zyx=(1.0, 1.0, 1.0),
                left_is_high_x: bool = True, config: PostConfig = PostConfig(),
                snapshots: list | None = None) -> dict[str, np.ndarray]:
    """Organ masks (TG-263 names) from per-class masks (``CLASSES`` keys), on a (z, y, x) LPS grid."""
    masks = {name: np.asarray(masks[name], bool) for name in CLASSES}

    def snap(step: str, organs: dict[str, np.ndarray]) -> None:
        if snapshots is not None:
            snapshots.append((step, {k: v.copy() for k, v in organs.items()}))

    if snapshots is not None:
        snap("vote", organs_from_classes(masks, masks["brain"], left_is_high_x))
    brain = rules.fill_holes_triplanar(rules.largest_component(masks["brain"]))
    masks["brain"] = brain
    organs = organs_from_classes(masks, brain, left_is_high_x)
    snap("brain: largest component + triplanar hole filling; L/R split", organs)
    voxel_ml = float(np.prod(spacing_zyx)) / 1000.0
    eyes = rules.remove_small_components(masks["eye"], int(np.ceil(config.min_eye_ml / voxel_ml)))
    organs["Eye_L"], organs["Eye_R"] = rules.split_left_right(eyes, brain, left_is_high_x)
    snap("eyes: components < 4 cm3 removed", organs)
    lens = rules.inside(masks["lens"], eyes)
    organs["Lens_L"], organs["Lens_R"] = rules.inside(lens, organs["Eye_L"]), rules.inside(lens, organs["Eye_R"])
    snap("lenses: inside the eyes", organs)
    chiasm = rules.largest_component(masks["optic chiasm"])
    organs["OpticChiasm"] = chiasm
    snap("chiasm: largest component", organs)
    chiasm_l, chiasm_r = rules.split_at_barycentre(chiasm, left_is_high_x)
    nerve_config = config.nerve or NerveConfig.for_spacing(float(np.mean(spacing_zyx)))
    for side, half in (("L", chiasm_l), ("R", chiasm_r)):
        organs[f"OpticNrv_{side}"] = optic_nerve(organs[f"OpticNrv_{side}"], organs[f"Eye_{side}"], half, image,
                                                 nerve_config)
    snap("optic nerves: landmarks, fat refinement, Dijkstra, balls, 1D openings", organs)
    if config.largest_rest:
        for name in ("Hippocampus_L", "Hippocampus_R", "Brainstem", "Pituitary"):
            organs[name] = rules.largest_component(organs[name])
        snap("largest component: hippocampi, brainstem, pituitary [rec]", organs)
    return organs
