"""The 2D stages: the multi-sequence 2D network in one orientation, or one subnetwork's pretraining.

Batches hold ``slices_per_batch`` slices of the orientation (axial, coronal or sagittal
planes of the LPS stack), ``tumour_fraction`` of them through the tumour and the rest through
the brain, redrawn until every class is in the batch (spec §8 #8). The loss is
0.75 · main + 0.05 · each auxiliary head (spec §2.4) with the recipe's segmentation loss.
Pretraining (spec §2.6) trains subnetwork k and its auxiliary head alone on the one sequence
of every case that has it; the whole-network stage then starts from those weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.methods.tumour_2d3d import common
from weakseg.methods.tumour_2d3d.config import Tumour2D3DConfig
from weakseg.nn.cascade2d3d import ORIENTATION_AXES
from weakseg.nn.multiseq2d import MultiSeq2D
from weakseg.training.data import DataConfig, TrainingCase


def orient(array: np.ndarray, orientation: str) -> np.ndarray:
    """View of a (C, z, y, x) stack (or (z, y, x) map) with the orientation's slices on the first axis
    after the channels: (C, S, a, b) (or (S, a, b))."""
    axis = ORIENTATION_AXES[orientation] - (1 if array.ndim == 3 else 0)
    return np.moveaxis(array, axis, array.ndim - 3)


class SliceStage:
    """What the training engine drives for one 2D stage (see the module docstring)."""

    name = "tumour-2d3d"

    def __init__(self, config: Tumour2D3DConfig, orientation: str, subnet: int | None = None,
                 init_subnets: dict[int, Path] | None = None, method: str = "tumour-2d3d"):
        if orientation not in ORIENTATION_AXES:
            raise WeakSegError(f"unknown orientation '{orientation}'")
        self.config = config
        self.orientation = orientation
        self.subnet = subnet
        self.init_subnets = dict(init_subnets or {})
        self.method = method
        self.loss_fn = common.segmentation_loss(config, "2d")
        self.recipe = config.recipe_config
        self.cases: list[TrainingCase] = []

    # --- setup -----------------------------------------------------------------------------------------
    def data_config(self) -> DataConfig:
        if self.subnet is not None:
            return self.config.data_config((self.config.sequences[self.subnet],))
        return self.config.data_config()

    def build_network(self) -> nn.Module:
        from weakseg.models.registry import load_model

        network = MultiSeq2D(self.config.network_config().net2d_config())
        for index, folder in sorted(self.init_subnets.items()):  # pretrained subnetworks (spec §2.6)
            trained = load_model(folder).network
            network.subs[index].load_state_dict(trained.subs[index].state_dict())
            if self.config.freeze_pretrained:
                network.subs[index].requires_grad_(False)
                for module in network.subs[index].modules():
                    if isinstance(module, nn.BatchNorm2d):
                        module.momentum = 0.0  # running statistics stay the pretrained ones
        if self.subnet is not None:  # pretraining: only this subnetwork and its head learn
            network.requires_grad_(False)
            network.subs[self.subnet].requires_grad_(True)
        return network

    @property
    def batches_per_iteration(self) -> int:
        return self.config.per_iteration("2d")

    def prepare(self, cases: list[TrainingCase], network: nn.Module) -> dict[str, int]:
        """Per case the slices through the tumour and through the brain; the common slice canvas."""
        if not cases:
            raise WeakSegError("no training cases")
        if any(not c.full for c in cases):
            raise WeakSegError("the 2D-3D method trains on fully annotated cases only", cases[0].case_id)
        self.cases = cases
        tumour, brain, present = [], [], []
        for index, case in enumerate(cases):
            stack, classes = orient(case.stack, self.orientation), orient(case.classes, self.orientation)
            area = (stack != 0).any(0).reshape(stack.shape[1], -1).sum(1)
            usable = area >= self.config.brain_fraction * max(int(area.max()), 1)
            flat = classes.reshape(classes.shape[0], -1)
            has = np.stack([(flat == c).any(1) for c in range(1, self.config.n_classes)], 1)
            tumour += [(index, s) for s in np.flatnonzero(usable & has.any(1))]
            brain += [(index, s) for s in np.flatnonzero(usable)]
            present.append(has)
        self.tumour, self.brain, self.present = np.array(tumour).reshape(-1, 2), np.array(brain).reshape(-1, 2), present
        if not len(self.tumour):
            raise WeakSegError("no training slice contains tumour; check the dataset's labels")
        for c, name in zip((1, 2, 3), ("necrosis", "edema", "enhancing")):
            if not any(p[:, c - 1].any() for p in present):
                raise WeakSegError(f"class '{name}' never occurs in the training data; a 4-class model cannot learn it")
        multiple = network.config.multiple
        sizes = np.array([orient(c.stack, self.orientation).shape[2:] for c in cases])
        h, w = sizes.max(0)
        self.canvas = (int(h + (-h) % multiple), int(w + (-w) % multiple))
        return {"tumour_slices": len(self.tumour), "brain_slices": len(self.brain)}

    # --- batches ---------------------------------------------------------------------------------------
    def _rows(self, rng: np.random.Generator) -> np.ndarray:
        n = self.config.slices_per_batch
        n_tumour = int(round(self.config.tumour_fraction * n))
        rows = np.concatenate([self.tumour[rng.integers(0, len(self.tumour), n_tumour)],
                               self.brain[rng.integers(0, len(self.brain), n - n_tumour)]])
        return rows

    def draw_batch(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        for _attempt in range(max(1, self.config.max_redraws)):
            rows = self._rows(rng)
            if np.stack([self.present[i][s] for i, s in rows]).any(0).all():
                break
        h, w = self.canvas
        channels = 1 if self.subnet is not None else len(self.config.sequences)
        images = np.zeros((len(rows), channels, h, w), np.float32)
        masks = np.zeros((len(rows), h, w), np.int64)
        for b, (i, s) in enumerate(rows):
            stack = orient(self.cases[i].stack, self.orientation)
            sh, sw = stack.shape[2:]
            top, left = (h - sh) // 2, (w - sw) // 2
            images[b, :, top:top + sh, left:left + sw] = stack[:, s]
            masks[b, top:top + sh, left:left + sw] = orient(self.cases[i].classes, self.orientation)[s]
        if self.recipe is None or not self.recipe.augment:  # the thesis: a share mirrored left-right
            if self.orientation != "sagittal":  # a sagittal slice's last axis is anterior-posterior
                flips = rng.choice(len(rows), int(round(self.config.flip_fraction * len(rows))), replace=False)
                images[flips] = images[flips, :, :, ::-1]
                masks[flips] = masks[flips, :, ::-1]
            return {"images": torch.from_numpy(np.ascontiguousarray(images)),
                    "masks": torch.from_numpy(np.ascontiguousarray(masks))}
        from weakseg.training.augment import AugmentConfig, augment, generator_from

        augmentation = self.recipe.augment_config
        if self.orientation == "sagittal":
            augmentation = AugmentConfig.from_dict({**augmentation.to_dict(), "flip_axes": ()})
        images_t, masks_t = augment(torch.from_numpy(images), torch.from_numpy(masks), augmentation, generator_from(rng))
        return {"images": images_t, "masks": masks_t}

    # --- loss and optimiser ----------------------------------------------------------------------------
    def loss(self, network: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        images, masks = batch["images"], batch["masks"]
        if self.subnet is not None:
            value = self.loss_fn(network(images, subnet=self.subnet)[0], masks)
            return value, {"loss": value.detach().item()}
        seg, aux = network(images)
        main = self.loss_fn(seg, masks)
        aux_loss = torch.stack([self.loss_fn(a, masks) for a in aux]).sum() if aux else seg.sum() * 0.0
        value = cfg.main_weight * main + cfg.aux_weight * aux_loss
        return value, {"loss": value.detach().item(), "loss_main": main.detach().item(),
                       "loss_aux": aux_loss.detach().item()}

    def build_optimizer(self, network: nn.Module, iterations: int):
        return common.build_optimizer(self.config, network, iterations)

    # --- validation and card ---------------------------------------------------------------------------
    @torch.no_grad()
    def predict_stack(self, network: nn.Module, stack: np.ndarray, device) -> np.ndarray:
        """Probabilities (K, z, h, w) of the orientation's 2D network on every slice of a stack."""
        from weakseg.methods.recipe import predict_stack

        regions = self.config.regions
        oriented = np.ascontiguousarray(orient(stack, self.orientation))
        probs = predict_stack(network, oriented, regions=regions, tta=False, device=device)
        axis = ORIENTATION_AXES[self.orientation]
        return np.moveaxis(probs, 1, axis)

    @torch.no_grad()
    def validate(self, network: nn.Module, cases: list[TrainingCase], device: torch.device) -> dict[str, float]:
        if self.subnet is not None:
            return {}
        was_training = network.training
        network.eval()
        scores = [common.region_dice(self.predict_stack(network, c.stack.astype(np.float32), device), c.classes_full,
                                     self.config.regions) for c in cases if c.classes_full is not None]
        network.train(was_training)
        return common.mean_scores(scores)

    def model_card(self, model_id: str, training: dict[str, Any], metrics: dict[str, Any], licence: str,
                   description: str):
        cfg = self.config
        net = cfg.network_config().net2d_config()
        stage = {"stage": cfg.stage, "orientation": self.orientation}
        if self.subnet is not None:
            stage["pretrained_subnetwork"] = cfg.sequences[self.subnet]
        inference = {"mode": "slices2d", "axis": f"{self.orientation} (LPS canonical)",
                     "inplane_downsample": cfg.inplane_downsample}
        if self.orientation != "axial" or self.subnet is not None:
            inference["note"] = "a training stage of the 2D-3D method, not a segmentation model of its own"
        return common.model_card(cfg, self.method, {"name": "multiseq2d", "config": net.to_dict()},
                                 list(cfg.sequences), inference, model_id, {**training, **stage}, metrics, licence,
                                 description)
