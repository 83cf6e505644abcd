"""The training recipe every tumour method shares, and its prediction side (TTA, regions, post-processing).

Meant to generalise from the 22 development cases: augmentation (``weakseg.training.augment``),
brain-masked z-score normalisation, Dice + cross-entropy, optionally region-based sigmoid
outputs (WT ⊃ TC ⊃ ET), left-right test-time augmentation, fold ensembling (probabilities
averaged over models), and BraTS-style post-processing: small lesion islands dropped, and an
enhancing region smaller than ``et_min_voxels`` relabelled as (non-enhancing) core, since a
few false ET voxels in a case without enhancement cost the whole ET Dice. The threshold is
chosen by cross-validation on training folds (experiments/tumour_cv.py), never by eye.

A method stores the recipe as its ``recipe`` option (a dict); ``None`` keeps the method's
original recipe, so existing models and runs are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.methods.options import Options
from weakseg.training.augment import AugmentConfig

LOSSES = ("dice_ce", "weighted_ce")
OUTPUTS = ("softmax", "regions")


@dataclass
class RecipeConfig(Options):
    """augment: on/off; augmentation: ``AugmentConfig`` options; loss: 'dice_ce' or the method's own
    'weighted_ce'; output: 'softmax' (classes 0..3) or 'regions' (sigmoid WT, TC, ET); tta: mirror
    left-right at prediction and average; et_min_voxels: enhancing region smaller than this (voxels at
    the original resolution) becomes core (0 = off); min_component_fraction: lesion islands smaller than
    this share of the largest are dropped."""

    OPTIONS_OF = "recipe option(s)"

    augment: bool = True
    augmentation: dict[str, Any] = field(default_factory=dict)
    loss: str = "dice_ce"
    output: str = "softmax"
    tta: bool = True
    et_min_voxels: int = 0
    min_component_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise WeakSegError(f"unknown recipe loss '{self.loss}' (expected {' or '.join(LOSSES)})")
        if self.output not in OUTPUTS:
            raise WeakSegError(f"unknown recipe output '{self.output}' (expected {' or '.join(OUTPUTS)})")
        if self.et_min_voxels < 0 or not 0 <= self.min_component_fraction < 1:
            raise WeakSegError("et_min_voxels must be >= 0 and min_component_fraction in [0, 1)")
        self.augment_config  # validates the augmentation options

    @property
    def augment_config(self) -> AugmentConfig:
        return AugmentConfig.from_dict(self.augmentation)

    @property
    def regions(self) -> bool:
        return self.output == "regions"


    def describe(self, normalisation: str) -> str:
        parts = [f"{'brain-masked z-score' if normalisation == 'zscore' else normalisation} normalisation"]
        parts.append(f"augmentation: {self.augment_config.describe()}" if self.augment else "no augmentation")
        parts.append("loss: soft Dice + cross-entropy" if self.loss == "dice_ce" else "loss: class-weighted cross-entropy")
        parts.append("outputs: sigmoid regions WT ⊃ TC ⊃ ET" if self.regions else "outputs: softmax classes")
        parts.append("test-time augmentation: left-right mirror" if self.tta else "no test-time augmentation")
        parts.append(f"post-processing: islands < {self.min_component_fraction:g} of the largest lesion dropped; "
                     f"enhancing < {self.et_min_voxels} voxels becomes core" if self.et_min_voxels else
                     f"post-processing: islands < {self.min_component_fraction:g} of the largest lesion dropped")
        return "; ".join(parts)


# --- prediction ------------------------------------------------------------------------------------

@torch.no_grad()
def predict_stack(networks: nn.Module | Sequence[nn.Module], stack: np.ndarray, *, regions: bool = False,
                  tta: bool = False, size: tuple[int, int] | None = None, batch_size: int = 16,
                  device: str | torch.device = "cpu") -> np.ndarray:
    """Probabilities (K,z,h,w) of 2D networks on every axial slice of a (C,z,h,w) training-resolution stack.

    Several networks (fold ensembling) are averaged; ``tta`` also averages the left-right
    mirror; ``size`` (H, W) upsamples bilinearly to the original in-plane resolution.
    K is the number of classes (softmax) or 3 regions (sigmoid).
    """
    from weakseg.inference.engine import _pad_for_network, activate

    networks = [networks] if isinstance(networks, nn.Module) else list(networks)
    if not networks:
        raise WeakSegError("no network to predict with")
    c, depth, h, w = stack.shape
    out: np.ndarray | None = None
    for network in networks:
        network = network.to(device).eval()
        pad, _ = _pad_for_network(network, h, w)
        for z0 in range(0, depth, batch_size):
            x = torch.from_numpy(np.ascontiguousarray(stack[:, z0:z0 + batch_size].transpose(1, 0, 2, 3))).to(device, torch.float32)
            views = [x, torch.flip(x, (-1,))] if tta else [x]
            probs = 0
            for v, view in enumerate(views):
                xp = F.pad(view, pad)
                seg, _ = network(xp, with_branches=False)
                seg = seg[..., pad[2]:pad[2] + h, pad[0]:pad[0] + w] if seg.shape[-2:] == xp.shape[-2:] else seg[..., :h, :w]
                p = activate(seg, "sigmoid" if regions else "softmax")
                probs = probs + (torch.flip(p, (-1,)) if v else p)
            probs = probs / len(views)
            if size is not None and tuple(size) != (h, w):
                probs = F.interpolate(probs, size=tuple(size), mode="bilinear", align_corners=False)
            if out is None:
                out = np.zeros((probs.shape[1], depth, *probs.shape[-2:]), np.float32)
            out[:, z0:z0 + batch_size] += probs.permute(1, 0, 2, 3).cpu().numpy() / len(networks)
    assert out is not None
    return out


def region_probabilities(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WT, TC and ET probabilities of a softmax output (background, core, edema, enhancing)."""
    return 1.0 - probs[0], probs[1] + probs[3], probs[3]


def decode(probs: np.ndarray, regions: bool, thresholds: tuple[float, float, float] | None = None) -> np.ndarray:
    """Class map (z,y,x) uint8 (0 background, 1 necrosis/core, 2 edema, 3 enhancing) from probabilities.

    Regions: WT, TC, ET thresholded at 0.5 and painted in nesting order (WT → edema, TC → core,
    ET → enhancing), so each inner region lies inside the outer ones. ``thresholds`` (WT, TC, ET)
    replace the 0.5s; with a softmax output they threshold its region sums (WT = 1 − background,
    TC = core + enhancing, ET = enhancing) instead of taking the argmax: BraTS scores regions, and
    the argmax of four classes is not the threshold that maximises a region's Dice.
    """
    if not regions and thresholds is None:
        return probs.argmax(0).astype(np.uint8)
    t_wt, t_tc, t_et = thresholds or (0.5, 0.5, 0.5)
    p_wt, p_tc, p_et = (probs[0], probs[1], probs[2]) if regions else region_probabilities(probs)
    wt, tc, et = p_wt > t_wt, p_tc > t_tc, p_et > t_et
    out = np.zeros(probs.shape[1:], np.uint8)
    out[wt] = 2
    out[tc & wt] = 1
    out[et & tc & wt] = 3
    return out


def region_class_probabilities(probs: np.ndarray) -> np.ndarray:
    """Class probabilities (background, core, edema, enhancing) from WT ⊃ TC ⊃ ET region sigmoids.

    The regions are made nested first (TC ≤ WT, ET ≤ TC), so the four numbers are
    non-negative and sum to one, like a softmax output: probability maps look the same
    whichever output a model was trained with.
    """
    wt = probs[0]
    tc = np.minimum(probs[1], wt)
    et = np.minimum(probs[2], tc)
    return np.stack([1.0 - wt, tc - et, wt - tc, et]).astype(np.float32)


def small_et_to_core(classes: np.ndarray, min_voxels: int) -> np.ndarray:
    """Relabel all enhancing voxels as core (class 1) when there are fewer than ``min_voxels`` of them."""
    count = int(np.count_nonzero(classes == 3))
    if min_voxels <= 0 or count == 0 or count >= min_voxels:
        return classes
    out = classes.copy()
    out[out == 3] = 1
    return out


def postprocess(classes: np.ndarray, recipe: RecipeConfig) -> np.ndarray:
    from weakseg.inference.engine import drop_small_components

    return small_et_to_core(drop_small_components(classes, recipe.min_component_fraction), recipe.et_min_voxels)


def classes_from_probabilities(probs: np.ndarray, inference: dict, min_component_fraction: float | None = None) -> np.ndarray:
    """Labels (0..3) from a model's probabilities as its card's ``inference`` section says.

    The hook for whole-volume inference: 'output' (softmax or regions), 'region_thresholds'
    (WT, TC, ET; see ``decode``), island removal ('min_component_fraction', unless overridden) and
    'small ET becomes core' ('et_min_voxels'). A card without these keys gives today's behaviour
    (argmax, the card's island removal).
    """
    from weakseg.inference.engine import drop_small_components

    thresholds = inference.get("region_thresholds")
    classes = decode(probs, inference.get("output") == "regions", tuple(thresholds) if thresholds else None)
    fraction = inference.get("min_component_fraction", 0.0) if min_component_fraction is None else min_component_fraction
    return small_et_to_core(drop_small_components(classes, float(fraction)), int(inference.get("et_min_voxels", 0)))
