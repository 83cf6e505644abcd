"""What every network stage shares: the engine interface, the step-halving schedule, the card.

Each network stage (C, DCGAN, converter, S0/S_US/S_OS) is one ``StageMethod`` the shared
``weakseg.training.engine.Trainer`` drives in its own run sub-folder, so every stage gets the
engine's checkpoints, exact resume, events and sealed model folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from weakseg.models.card import BRATS_LICENCE, LabelEntry, ModelCard
from weakseg.training.data import DataConfig

from .config import GanSeedsConfig

WT_LABEL = LabelEntry("whole tumour", 1, 1, (0.3, 0.7, 1.0), "86049000", "Malignant neoplasm, primary")


def data_config(cfg: GanSeedsConfig) -> DataConfig:
    """Raw intensities in the brain box (``minmax`` scales them per case, as paper 002)."""
    return DataConfig(tuple(cfg.sequences), "none", 0, 100.0, 1, 0.05)


@dataclass
class StageOptions:
    """The method options plus the stage name: what a stage's checkpoint records (``build_method`` input)."""

    options: GanSeedsConfig
    stage: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.options.to_dict(), "stage": self.stage}


@dataclass
class StepHalving:
    """LR halved ``halvings`` times at equal fractions of the run (paper: every 50 epochs); stateless."""

    base_lr: float
    iterations: int
    halvings: int

    def step(self, optimizer: torch.optim.Optimizer, iteration: int, loss: float) -> None:
        done = (iteration + 1) * (self.halvings + 1) // max(1, self.iterations)
        for group in optimizer.param_groups:
            group["lr"] = self.base_lr * 0.5 ** min(done, self.halvings)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def flip_rows(rng: np.random.Generator, *arrays: np.ndarray) -> list[np.ndarray]:
    """Mirror a random half of the batch left-right, the same rows in every array (last axis = x)."""
    rows = rng.random(len(arrays[0])) < 0.5
    out = []
    for a in arrays:
        a = a.copy()
        a[rows] = a[rows][..., ::-1]
        out.append(np.ascontiguousarray(a))
    return out


def bce(p: torch.Tensor, target: float) -> torch.Tensor:
    """Binary cross-entropy of probabilities against a constant (smoothed) label."""
    p = p.float().clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(p, torch.full_like(p, target))


def frozen_call(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` with its parameters detached: the generator's loss must not train the discriminator
    (one optimiser steps both halves; Adam is per parameter, so this equals the paper's two optimisers)."""
    params = {k: v.detach() for k, v in module.named_parameters()}
    return torch.func.functional_call(module, params, (x,))


class StageMethod:
    """Engine interface shared by the stages; subclasses set ``stage``, ``build_network``, ``draw_batch``, ``loss``."""

    name = "gan-seeds"
    stage = ""
    betas = (0.9, 0.999)
    halvings = 4

    def __init__(self, options: GanSeedsConfig, context=None):
        self.options = options
        self.config = StageOptions(options, self.stage)
        self.context = context
        self.bank = None

    batches_per_iteration = 1

    def data_config(self) -> DataConfig:
        return data_config(self.options)

    @property
    def lr(self) -> float:
        return self.options.lr_seg

    def prepare(self, cases, network) -> dict[str, int]:
        self.bank = self.context.bank_for(cases)
        return self.select()

    def select(self) -> dict[str, int]:
        return self.bank.counts()

    def build_optimizer(self, network: nn.Module, iterations: int):
        optimizer = torch.optim.Adam(network.parameters(), lr=self.lr, betas=self.betas)
        return optimizer, StepHalving(self.lr, iterations, self.halvings)

    def validate(self, network, cases, device) -> dict[str, float]:
        return {}

    def network_entry(self) -> dict[str, Any]:
        raise NotImplementedError

    def model_card(self, model_id: str, training: dict[str, Any], metrics: dict[str, Any], licence: str,
                   description: str) -> ModelCard:
        return ModelCard(id=model_id, method="gan-seeds", network=self.network_entry(),
                         sequences=list(self.options.sequences), labels=[WT_LABEL],
                         preprocessing={"normalisation": "none", "margin": 0},
                         inference={"mode": "gan-seeds-stage", "stage": self.stage}, regions={"WT": [1]},
                         training=training, metrics=metrics, licence=licence or BRATS_LICENCE,
                         description=description or f"paper 002 stage '{self.stage}' (not a segmentation model)")
