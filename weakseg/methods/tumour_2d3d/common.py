"""What the 2D and 3D stages share: the loss the recipe names, the optimiser, validation Dice, the card."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.methods.tumour_2d3d.config import Tumour2D3DConfig
from weakseg.models.card import BRATS_LICENCE, ModelCard, brats_labels

REGION_CLASSES = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}


def segmentation_loss(cfg: Tumour2D3DConfig, kind: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Loss of logits [B,K,*S] against class maps [B,*S]: the recipe's Dice + CE (softmax or regions), or
    the thesis's batch-adaptive weighted cross-entropy (t = class_weights_2d, or _3d for kind '3d')."""
    from weakseg.methods.mixed import seg_loss
    from weakseg.training import losses

    recipe = cfg.recipe_config
    if recipe is None or recipe.loss == "weighted_ce":
        if cfg.regions:
            raise WeakSegError("region outputs need the recipe loss 'dice_ce'")
        weights = cfg.class_weights_3d if kind == "3d" else cfg.class_weights_2d
        return lambda logits, target: seg_loss(logits, target, weights)
    return losses.region_dice_bce_loss if recipe.regions else losses.dice_ce_loss


def build_optimizer(cfg: Tumour2D3DConfig, network: nn.Module, iterations: int):
    """AdamW or normalised-gradient SGD on the trainable parameters, with the configured schedule."""
    from weakseg.methods.mixed import FunctionSchedule
    from weakseg.training.optim import NormalisedSGD, PlateauHalving

    params = [p for p in network.parameters() if p.requires_grad]
    if cfg.optimizer == "ngsgd":
        optimizer = NormalisedSGD(params, lr=cfg.learning_rate, momentum=cfg.momentum)
    else:
        optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    if cfg.lr_schedule == "plateau":  # thesis §2.5: every F iterations, halve unless the loss fell by 2 %
        every = cfg.plateau_every
        schedule = PlateauHalving(every=every, window=max(1, every // 2), ratio=0.98, min_lr=cfg.min_lr, extend=every)
    else:
        schedule = FunctionSchedule(cfg.learning_rate, iterations, cosine=cfg.lr_schedule == "cosine")
    return optimizer, schedule


def probabilities(logits: torch.Tensor, regions: bool) -> torch.Tensor:
    from weakseg.inference.engine import activate

    return activate(logits[None], "sigmoid" if regions else "softmax")[0]


def region_dice(probs: np.ndarray, truth: np.ndarray, regions: bool) -> dict[str, float]:
    """Dice of WT, TC, ET between probabilities (K, z, h, w) brought to ``truth``'s in-plane size and truth."""
    from weakseg.methods.recipe import decode
    from weakseg.metrics import confusion, dice

    t = torch.from_numpy(np.ascontiguousarray(probs)).transpose(0, 1)
    if t.shape[-2:] != truth.shape[-2:]:
        t = F.interpolate(t, size=truth.shape[-2:], mode="bilinear", align_corners=False)
    pred = decode(t.transpose(0, 1).numpy(), regions)
    return {f"dice_{r}": dice(confusion(np.isin(pred, c), np.isin(truth, c))) for r, c in REGION_CLASSES.items()}


def mean_scores(per_case: list[dict[str, float]]) -> dict[str, float]:
    if not per_case:
        return {}
    out = {k: float(np.mean([s[k] for s in per_case])) for k in per_case[0]}
    out["dice_mean"] = float(np.mean(list(out.values())))
    return out


def model_card(cfg: Tumour2D3DConfig, method: str, network: dict[str, Any], sequences: list[str],
               inference: dict[str, Any], model_id: str, training: dict[str, Any], metrics: dict[str, Any],
               licence: str, description: str) -> ModelCard:
    """A card for a stage or final model; the recipe and its description are stated on it."""
    recipe = cfg.recipe_config
    inference = dict(inference)
    if recipe is not None:
        inference.update(output=recipe.output, tta=recipe.tta, min_component_fraction=recipe.min_component_fraction,
                         et_min_voxels=recipe.et_min_voxels)
        training = {**training, "recipe": recipe.to_dict(), "recipe_description": recipe.describe(cfg.normalisation)}
    else:
        training = {**training, "recipe": None, "recipe_description": "thesis recipe: batch-adaptive weighted "
                    "cross-entropy, 30 % left-right flips, no post-processing"}
    return ModelCard(id=model_id, method=method, network=network, sequences=list(sequences), labels=brats_labels(),
                     preprocessing={"normalisation": cfg.normalisation, "margin": cfg.margin, "median_scale": 100.0},
                     inference=inference, regions={"WT": [1, 2, 4], "TC": [1, 4], "ET": [4]}, training=training,
                     metrics=metrics, licence=licence or BRATS_LICENCE, description=description)
