"""Paper 001: mixed supervision (voxel labels + per-slice labels) for brain-tumour segmentation.

A 2D U-Net on axial slices with one image-level classification branch per class. Each
batch holds k fully annotated tumour slices, m tumour-free slices (mask all zeros) and
n slice-labelled tumour slices; the loss is ``a·Loss_s + (1−a)·Loss_c`` with a
class-weighted segmentation cross-entropy on the k + m masked slices and a plain
cross-entropy of the branches on all slices. ``branch=False`` is the
standard-supervision baseline: the same network without the branch, trained on the
fully annotated cases only. Spec: docs/methods/mixed-supervision.md.

Every method module has the same shape: a config dataclass, a ``Method`` class the
training engine drives, ``train(TrainConfig, progress, cancel) -> model folder`` and
``predict(case, model, InferenceConfig) -> SegmentationResult``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.methods.options import Options
from weakseg.methods import MethodInfo
from weakseg.models.card import BRATS_LICENCE, LabelEntry, ModelCard, brats_labels
from weakseg.nn.unet2d import UNet2D, UNet2DConfig
from weakseg.training.data import ABSENT, PRESENT, UNKNOWN, DataConfig, TrainingCase, presence
from weakseg.training.optim import NormalisedSGD, PlateauHalving
from weakseg.training.presets import Preset

METHOD = MethodInfo(
    name="mixed", title="Mixed supervision (paper 001)",
    help="Trains on every label kind at once: voxel labels where a case has them, slice-level labels and scribbles elsewhere",
    sequences=("flair", "t1", "t1c", "t2"), label_kinds=("full", "slices", "scribbles"))

COMPACT_2D = {"base": 16, "depth": 4, "same_padding": True, "branch_conv": 16, "branch_widths": [128, 96, 64, 48, 32],
              "branch_fc6": 24, "k": 4, "m": 2, "n": 4, "optimizer": "adamw", "lr": 0.002, "weight_decay": 0.0001,
              "schedule": "cosine", "inplane_downsample": 2}
"""The default model's network and optimiser (weakseg/models/default-tumour/train-config.json)."""


PRESETS = {
    "cpu": Preset("cpu", "compact 2D U-Net (base 16, 2x downsampled slices, AdamW), 2200 iterations",
                  {"iterations": 2200, "checkpoint_every": 100}, dict(COMPACT_2D)),
    "gpu": Preset("gpu", "2D U-Net base 32 at full in-plane resolution, AdamW, 4 batches per iteration, "
                         "10000 iterations",
                  {"iterations": 10000, "checkpoint_every": 250, "amp": True},
                  {"base": 32, "depth": 4, "same_padding": True, "branch_conv": 32,
                   "branch_widths": [150, 125, 100, 75, 50], "branch_fc6": 25, "optimizer": "adamw", "lr": 0.001,
                   "weight_decay": 0.0001, "schedule": "cosine", "batches_per_iteration": 4,
                   "inplane_downsample": 1}),
    "paper": Preset("paper", "paper 001 as published: base 64, normalised-gradient SGD (10 batches per iteration), "
                             "plateau halving; sized for a GPU",
                    {}, {"base": 64, "branch_conv": 32, "branch_widths": [300, 250, 200, 150, 100], "branch_fc6": 50,
                         "optimizer": "ngsgd", "schedule": "plateau", "inplane_downsample": 1}),
}
"""``weakseg train --preset cpu|gpu|paper`` for this method (``weakseg.training.presets``)."""

MODES = ("multiclass", "WT", "TC", "ET")
# Network class indices (1 necrosis, 2 edema, 3 enhancing) that make up each binary region.
REGION_CLASSES = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}
REGION_COLOURS = {"WT": (0.3, 0.7, 1.0), "TC": (1.0, 0.9, 0.3), "ET": (0.9, 0.2, 0.2)}
REGION_NAMES = {"WT": "whole tumour", "TC": "tumour core", "ET": "enhancing tumour"}


@dataclass
class MixedConfig(Options):
    """Paper 001's settings; defaults are the paper's (spec §2), CPU users shrink ``base``.

    mode: 'multiclass' (4 classes, one branch per tumour class) or a binary region 'WT'/'TC'/'ET'.
    branch: False gives the standard-supervision baseline (no branch, fully annotated cases only).
    k, m, n: fully annotated positives, negatives and slice-labelled positives per batch;
      s: scribbled slices of not fully annotated cases per batch (their strokes train the segmentation
      through a partial cross-entropy weighted ``scribble_weight``; used only when some case has strokes).
    fill_weak_with_full: when no case is slice-labelled, the n slots take more fully annotated positives.
    class_weights: t_c per class (None: 0.7/0.3 binary, 0.7/0.1/0.1/0.1 multiclass); a: weight of the
      segmentation loss (None: 0.7 binary, 0.3 multiclass).
    optimizer: 'ngsgd' (the paper's normalised-gradient SGD, 10 batches summed per iteration) or
      'adamw' (1 batch per iteration unless ``batches_per_iteration`` says otherwise).
    schedule: 'plateau' (paper), 'cosine' or 'none'; None picks plateau for ngsgd, cosine for adamw.
    z_range: axial slices used (paper: 15..130 on BraTS); None uses ``brain_fraction``.
    recipe: the shared generalisation recipe (``weakseg.methods.recipe.RecipeConfig`` options:
      augmentation, Dice + CE, region outputs, TTA, post-processing); None = paper 001's recipe.
    preset: name of the ``weakseg train --preset`` the options came from (recorded only).
    """

    OPTIONS_OF = "option(s) for method 'mixed'"

    mode: str = "multiclass"
    branch: bool = True
    base: int = 64
    depth: int = 4
    same_padding: bool = True
    branch_conv: int = 32
    branch_widths: tuple[int, ...] = (300, 250, 200, 150, 100)
    branch_fc6: int = 50
    k: int = 4
    m: int = 2
    n: int = 4
    s: int = 2
    scribble_weight: float = 1.0
    fill_weak_with_full: bool = True
    class_weights: tuple[float, ...] | None = None
    a: float | None = None
    optimizer: str = "ngsgd"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batches_per_iteration: int | None = None
    schedule: str | None = None
    plateau_every: int = 500
    plateau_window: int = 245
    min_lr: float = 1e-3
    flip_fraction: float = 0.3
    z_range: tuple[int, int] | None = None
    max_redraws: int = 30
    sequences: tuple[str, ...] = ("flair", "t1", "t1c", "t2")
    normalisation: str = "median"
    margin: int = 0
    inplane_downsample: int = 1
    brain_fraction: float = 0.05
    recipe: dict[str, Any] | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        if self.recipe is not None:  # stored resolved, so the card and resume see every recipe setting
            from weakseg.methods.recipe import RecipeConfig

            self.recipe = RecipeConfig.from_dict(dict(self.recipe)).to_dict()
            if self.recipe["output"] == "regions" and self.mode != "multiclass":
                raise WeakSegError("region outputs (WT, TC, ET) need mode 'multiclass'")
        self.branch_widths = tuple(int(w) for w in self.branch_widths)
        self.sequences = tuple(self.sequences)
        if self.z_range is not None:
            self.z_range = (int(self.z_range[0]), int(self.z_range[1]))
        if self.class_weights is not None:
            self.class_weights = tuple(float(t) for t in self.class_weights)
        if self.mode not in MODES:
            raise WeakSegError(f"unknown mode '{self.mode}' (expected one of {', '.join(MODES)})")
        if self.optimizer not in ("ngsgd", "adamw"):
            raise WeakSegError(f"unknown optimizer '{self.optimizer}' (expected ngsgd or adamw)")
        if self.schedule not in (None, "plateau", "cosine", "none"):
            raise WeakSegError(f"unknown schedule '{self.schedule}' (expected plateau, cosine or none)")
        if min(self.k, self.m, self.n, self.s) < 0 or self.k + self.n + self.s == 0:
            raise WeakSegError(f"invalid batch composition k={self.k}, m={self.m}, n={self.n}, s={self.s}")
        if self.scribble_weight < 0:
            raise WeakSegError(f"scribble_weight must be >= 0, got {self.scribble_weight}")
        if self.class_weights is not None and len(self.class_weights) != self.n_classes:
            raise WeakSegError(f"class_weights needs {self.n_classes} values for mode {self.mode}")

    # --- derived settings -----------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return 4 if self.mode == "multiclass" else 2

    @property
    def weights(self) -> tuple[float, ...]:
        return self.class_weights or ((0.7, 0.1, 0.1, 0.1) if self.mode == "multiclass" else (0.7, 0.3))

    @property
    def seg_weight(self) -> float:
        return self.a if self.a is not None else (0.3 if self.mode == "multiclass" else 0.7)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (0.25 if self.optimizer == "ngsgd" else 1e-3)

    @property
    def per_iteration(self) -> int:
        return self.batches_per_iteration or (10 if self.optimizer == "ngsgd" else 1)

    @property
    def lr_schedule(self) -> str:
        return self.schedule or ("plateau" if self.optimizer == "ngsgd" else "cosine")

    @property
    def branch_classes(self) -> list[tuple[int, ...]]:
        """Network classes each branch detects: one per tumour class, or the binary region."""
        if not self.branch:
            return []
        return [(1,), (2,), (3,)] if self.mode == "multiclass" else [REGION_CLASSES[self.mode]]

    @property
    def recipe_config(self):
        from weakseg.methods.recipe import RecipeConfig

        return RecipeConfig.from_dict(self.recipe) if self.recipe is not None else None

    @property
    def out_channels(self) -> int:
        """Network outputs: the classes, or 3 sigmoid regions (WT, TC, ET) under a region recipe."""
        return 3 if self.recipe is not None and self.recipe["output"] == "regions" else self.n_classes

    def network_config(self) -> UNet2DConfig:
        return UNet2DConfig(len(self.sequences), self.out_channels, self.base, self.depth, self.same_padding,
                            len(self.branch_classes), 13, self.branch_conv, self.branch_widths, self.branch_fc6)

    def data_config(self) -> DataConfig:
        return DataConfig(self.sequences, self.normalisation, self.margin, 100.0, self.inplane_downsample,
                          self.brain_fraction)



@dataclass
class Pools:
    """(case index, slice) pairs: fully annotated positives, negatives, slice-labelled positives, scribbled slices."""

    full: np.ndarray
    negative: np.ndarray
    weak: np.ndarray
    scribble: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"full_positive": len(self.full), "negative": len(self.negative), "weak_positive": len(self.weak),
                "scribbled": len(self.scribble)}


def seg_loss(logits: torch.Tensor, target: torch.Tensor, weights: tuple[float, ...]) -> torch.Tensor:
    """Paper 001 eq. (1) without 1/P: pixel weight t_c / N_c, N_c counted over the batch (0 if absent)."""
    logp = F.log_softmax(logits.float(), 1).gather(1, target[:, None])[:, 0]
    counts = torch.bincount(target.flatten(), minlength=len(weights)).float()
    t = torch.tensor(weights, device=logits.device, dtype=torch.float32)
    per_class = torch.where(counts > 0, t / counts.clamp(min=1), torch.zeros_like(t))
    return -(per_class[target] * logp).sum()


class MixedMethod:
    """What the training engine drives: network, pools, batches, loss, optimiser, card."""

    name = "mixed"

    def __init__(self, config: MixedConfig):
        self.config = config
        self.cases: list[TrainingCase] = []
        self.pools: Pools | None = None
        self.canvas: tuple[int, int] = (0, 0)
        self.pad: tuple[int, int, int, int] = (0, 0, 0, 0)
        self.recipe = config.recipe_config

    # --- setup ---------------------------------------------------------------------------------------
    def data_config(self) -> DataConfig:
        return self.config.data_config()

    def build_network(self) -> nn.Module:
        return UNet2D(self.config.network_config())

    @property
    def batches_per_iteration(self) -> int:
        return self.config.per_iteration

    def _slice_ok(self, case: TrainingCase) -> np.ndarray:
        ok = case.usable.copy()
        if self.config.z_range is not None:
            z = np.arange(case.depth)
            ok &= (z >= self.config.z_range[0]) & (z <= self.config.z_range[1])
        return ok

    def _target_classes(self) -> tuple[int, ...]:
        return (1, 2, 3) if self.config.mode == "multiclass" else REGION_CLASSES[self.config.mode]

    def prepare(self, cases: list[TrainingCase], network: nn.Module) -> dict[str, int]:
        """Build the slice pools and the common slice canvas; refuses unusable data with a clear message."""
        if not cases:
            raise WeakSegError("no training cases")
        cfg = self.config
        self.cases = cases
        target = self._target_classes()
        full, negative, weak, scribbled = [], [], [], []
        for index, case in enumerate(cases):
            ok = self._slice_ok(case)
            if not case.full and case.scribbles is not None:
                stroked = case.scribbles.reshape(case.depth, -1).any(1)
                scribbled += [(index, z) for z in np.flatnonzero(ok & stroked)]
            present = presence(case, target)
            if case.full:
                for z in np.flatnonzero(ok & (present == PRESENT)):
                    full.append((index, z))
            if case.full or cfg.branch:
                for z in np.flatnonzero(ok & (present == ABSENT)):
                    negative.append((index, z))
            if not case.full and cfg.branch:
                for z in np.flatnonzero(ok & (present == PRESENT)):
                    weak.append((index, z))
        as_array = lambda items: np.array(items, dtype=np.int64).reshape(-1, 2)  # noqa: E731
        self.pools = Pools(as_array(full), as_array(negative), as_array(weak), as_array(scribbled))
        if not len(self.pools.full) and not (cfg.s and len(self.pools.scribble)):
            raise WeakSegError("no fully annotated slice contains the target, and no case has scribbles; check the "
                               "dataset's labels")
        if cfg.m and not len(self.pools.negative):
            raise WeakSegError("no tumour-free slice to draw negatives from")
        if cfg.branch and cfg.n and not len(self.pools.weak) and not cfg.fill_weak_with_full:
            raise WeakSegError("no slice-labelled tumour slice (P_WA is empty) and fill_weak_with_full is off")
        if cfg.mode == "multiclass":
            for c, name in zip((1, 2, 3), ("necrosis", "edema", "enhancing")):
                if len(self.pools.full) and not any((presence(case, (c,)) == PRESENT).any()
                                                    for case in cases if case.full or cfg.branch):
                    raise WeakSegError(f"class '{name}' never occurs in the training data; a 4-class model cannot learn it")
        multiple = network.config.multiple if network.config.same_padding else 1
        h = max(c.stack.shape[2] for c in cases)
        w = max(c.stack.shape[3] for c in cases)
        self.canvas = (h + (-h) % multiple, w + (-w) % multiple)
        from weakseg.inference.engine import _pad_for_network

        self.pad = _pad_for_network(network, *self.canvas)[0] if not network.config.same_padding else (0, 0, 0, 0)
        return self.pools.sizes()

    # --- batches -------------------------------------------------------------------------------------
    def _compose(self, rng: np.random.Generator) -> tuple[np.ndarray, int, int, int]:
        """Rows (case, z) in the order FA positives, negatives, scribbled slices, slice-labelled positives;
        k, k + m and k + m + s (the rows the segmentation loss sees)."""
        cfg, pools = self.config, self.pools
        k, n = cfg.k, cfg.n if cfg.branch else 0
        s = cfg.s if len(pools.scribble) else 0
        if n and not len(pools.weak):
            k, n = k + n, 0
        if not len(pools.full):  # scribbles only: their slots take the fully annotated ones
            k, s = 0, s + k
        parts = [pools.full[rng.integers(0, len(pools.full), k)]] if k else []
        if cfg.m:  # prepare() refuses m > 0 without negatives
            parts.append(pools.negative[rng.integers(0, len(pools.negative), cfg.m)])
        m = cfg.m
        if s:
            parts.append(pools.scribble[rng.integers(0, len(pools.scribble), s)])
        if n:
            parts.append(pools.weak[rng.integers(0, len(pools.weak), n)])
        return np.concatenate(parts), k, k + m, k + m + s

    def draw_batch(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """One batch of numpy-built tensors (CPU): images, masks for the first k + m, branch labels."""
        cfg = self.config
        for _attempt in range(max(1, cfg.max_redraws)):
            rows, k, n_full, n_seg = self._compose(rng)
            labels = np.stack([self.cases[i].slice_labels[z] for i, z in rows])
            if cfg.mode != "multiclass" or n_full < n_seg or (labels == PRESENT).any(0).all():
                # each tumour class at least once per batch (paper 001, multiclass)
                break
        else:
            raise WeakSegError(f"could not draw a batch holding every tumour class in {cfg.max_redraws} attempts")
        h, w = self.canvas
        channels = len(cfg.sequences)
        images = np.zeros((len(rows), channels, h, w), dtype=np.float32)
        masks = np.zeros((n_seg, h, w), dtype=np.int64)
        for b, (i, z) in enumerate(rows):
            case = self.cases[i]
            sh, sw = case.stack.shape[2:]
            top, left = (h - sh) // 2, (w - sw) // 2
            images[b, :, top:top + sh, left:left + sw] = case.stack[:, z]
            if b < k:
                masks[b, top:top + sh, left:left + sw] = self._map_classes(case.classes[z])
            elif n_full <= b < n_seg:  # forbidden-class bits: 0 (no stroke) is also what padding and warps add
                masks[b, top:top + sh, left:left + sw] = case.scribbles[z]
            # negatives keep an all-zero mask (background); slice-labelled rows have none
        augmenting = self.recipe is not None and self.recipe.augment
        if not augmenting:  # paper 001: a share of the batch mirrored left-right
            flips = rng.choice(len(rows), int(round(cfg.flip_fraction * len(rows))), replace=False)
            images[flips] = images[flips, :, :, ::-1]
            seg_flips = flips[flips < n_seg]
            masks[seg_flips] = masks[seg_flips, :, ::-1]
        branch_targets = [np.array([presence(self.cases[i], classes)[z] for i, z in rows], np.int64)
                          for classes in cfg.branch_classes]
        batch = {"images": torch.from_numpy(np.ascontiguousarray(images)),
                 "masks": torch.from_numpy(np.ascontiguousarray(masks))}
        if augmenting:  # slice labels stay valid: zoom (<= 1/0.85) and rotation keep the brain centre in view
            from weakseg.training.augment import augment, generator_from

            batch["images"], batch["masks"] = augment(batch["images"], batch["masks"], self.recipe.augment_config,
                                                      generator_from(rng))
        if branch_targets:
            batch["branch_targets"] = torch.from_numpy(np.stack(branch_targets))  # [branches, B], -1 = unknown
        batch["n_full"] = torch.tensor(n_full)  # masks[:n_full] are classes, masks[n_full:] scribble bits
        return batch

    def _map_classes(self, classes: np.ndarray) -> np.ndarray:
        if self.config.mode == "multiclass":
            return classes.astype(np.int64)
        return np.isin(classes, REGION_CLASSES[self.config.mode]).astype(np.int64)

    # --- loss and optimiser ----------------------------------------------------------------------------
    def loss(self, network: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        images, masks = batch["images"], batch["masks"]
        if any(self.pad):
            images = F.pad(images, self.pad)
        seg, branches = network(images, n_seg=masks.shape[0])
        if seg.shape[-2:] != masks.shape[-2:]:
            seg = seg[..., :masks.shape[-2], :masks.shape[-1]]
        n_full = int(batch.get("n_full", masks.shape[0]))
        loss_s = self._seg_loss(seg[:n_full], masks[:n_full]) if n_full else seg.sum() * 0.0
        if n_full < masks.shape[0]:
            loss_s = loss_s + cfg.scribble_weight * self._scribble_loss(seg[n_full:], masks[n_full:])
        if not branches:
            value = loss_s.detach().item()
            return loss_s, {"loss": value, "loss_seg": value}
        targets = batch["branch_targets"]
        terms = [F.cross_entropy(logits.float(), target, ignore_index=UNKNOWN)
                 for logits, target in zip(branches, targets) if (target != UNKNOWN).any()]
        loss_c = torch.stack(terms).mean() if terms else seg.sum() * 0.0
        a = cfg.seg_weight
        loss = a * loss_s + (1 - a) * loss_c
        return loss, {"loss": loss.detach().item(), "loss_seg": loss_s.detach().item(), "loss_cls": loss_c.detach().item()}

    def _seg_loss(self, seg: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        if self.recipe is None or self.recipe.loss == "weighted_ce":
            if self.recipe is not None and self.recipe.regions:
                raise WeakSegError("region outputs need the recipe loss 'dice_ce'")
            return seg_loss(seg, masks, self.config.weights)
        from weakseg.training import losses

        if self.recipe.regions:
            return losses.region_dice_bce_loss(seg, masks)
        return losses.dice_ce_loss(seg, masks)

    def _scribble_loss(self, seg: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        from weakseg.training import scribbles

        if self.recipe is not None and self.recipe.regions:
            return scribbles.partial_region_bce(seg, bits)
        if self.config.mode == "multiclass":
            groups = [(0,), (1,), (2,), (3,)]
        else:
            region = REGION_CLASSES[self.config.mode]
            groups = [tuple(c for c in range(4) if c not in region), tuple(region)]
        return scribbles.partial_ce(seg, bits, groups)

    def build_optimizer(self, network: nn.Module, iterations: int):
        cfg = self.config
        if cfg.optimizer == "ngsgd":
            optimizer = NormalisedSGD(network.parameters(), lr=cfg.learning_rate, momentum=cfg.momentum)
        else:
            optimizer = torch.optim.AdamW(network.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        return optimizer, make_schedule(cfg, optimizer, iterations)

    # --- validation and card -----------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, network: nn.Module, cases: list[TrainingCase], device: torch.device) -> dict[str, float]:
        """Mean Dice per region over ``cases`` at the original resolution (inside the brain box)."""
        from weakseg.inference.engine import InferenceConfig, predict_slices
        from weakseg.metrics import confusion, dice

        was_training = network.training
        network.eval()
        scores: dict[str, list[float]] = {}
        for case in cases:
            if case.classes_full is None:
                continue
            if self.recipe is not None:
                from weakseg.methods.recipe import decode, predict_stack

                probs = predict_stack(network, case.stack, regions=self.recipe.regions, tta=False,
                                      size=case.classes_full.shape[-2:], device=device)
                pred = decode(probs, self.recipe.regions)
            else:
                probs, _ = predict_slices(network, case.stack.astype(np.float32),
                                          InferenceConfig(device=str(device), batch_size=16))
                t = torch.from_numpy(probs).permute(1, 0, 2, 3)
                if t.shape[-2:] != case.classes_full.shape[-2:]:
                    t = F.interpolate(t, size=case.classes_full.shape[-2:], mode="bilinear", align_corners=False)
                pred = t.argmax(1).numpy()
            truth = case.classes_full
            regions = ("WT", "TC", "ET") if self.config.mode == "multiclass" else (self.config.mode,)
            for region in regions:
                classes = REGION_CLASSES[region]
                p = pred > 0 if self.config.mode != "multiclass" else np.isin(pred, classes)
                scores.setdefault(region, []).append(dice(confusion(p, np.isin(truth, classes))))
        network.train(was_training)
        out = {f"dice_{r}": float(np.mean(v)) for r, v in scores.items()}
        if out:
            out["dice_mean"] = float(np.mean(list(out.values())))
        return out

    def labels(self) -> list[LabelEntry]:
        if self.config.mode == "multiclass":
            return brats_labels()
        region = self.config.mode
        return [LabelEntry(REGION_NAMES[region], 1, 1, REGION_COLOURS[region], "86049000", "Malignant neoplasm, primary")]

    def model_card(self, model_id: str, training: dict[str, Any], metrics: dict[str, Any], licence: str,
                   description: str) -> ModelCard:
        cfg = self.config
        labels = self.labels()
        if cfg.mode == "multiclass":
            regions = {"WT": [1, 2, 4], "TC": [1, 4], "ET": [4]}
            branch_labels = ["necrosis", "edema", "enhancing"] if cfg.branch else []
        else:
            regions = {cfg.mode: [1]}
            branch_labels = [labels[0].name] if cfg.branch else []
        inference = {"mode": "slices2d", "axis": "axial (LPS canonical)", "inplane_downsample": cfg.inplane_downsample}
        if self.recipe is not None:
            recipe = self.recipe
            inference.update(output=recipe.output, tta=recipe.tta, min_component_fraction=recipe.min_component_fraction,
                             et_min_voxels=recipe.et_min_voxels)
            training = {**training, "recipe_description": recipe.describe(cfg.normalisation)}
        return ModelCard(
            id=model_id, method="mixed" if cfg.branch else "mixed-baseline",
            network={"name": "unet2d", "config": cfg.network_config().to_dict()},
            sequences=list(cfg.sequences), labels=labels,
            preprocessing={"normalisation": cfg.normalisation, "margin": cfg.margin, "median_scale": 100.0},
            inference=inference,
            regions=regions, branch_labels=branch_labels, training=training, metrics=metrics,
            licence=licence or BRATS_LICENCE, description=description)


def make_schedule(cfg: MixedConfig, optimizer: torch.optim.Optimizer, iterations: int):
    if cfg.lr_schedule == "plateau":
        return PlateauHalving(every=cfg.plateau_every, window=cfg.plateau_window, min_lr=cfg.min_lr)
    return FunctionSchedule(cfg.learning_rate, iterations, cosine=cfg.lr_schedule == "cosine")


@dataclass
class FunctionSchedule:
    """Learning rate as a pure function of the iteration (cosine to 1 % or constant): nothing to save."""

    base_lr: float
    iterations: int
    cosine: bool = True

    def step(self, optimizer: torch.optim.Optimizer, iteration: int, loss: float) -> None:
        if not self.cosine:
            return
        progress = min(1.0, (iteration + 1) / max(1, self.iterations))
        lr = self.base_lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))
        for group in optimizer.param_groups:
            group["lr"] = lr

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def build_method(options: dict[str, Any]) -> MixedMethod:
    return MixedMethod(MixedConfig.from_dict(options))


def train(config, progress=None, cancel: threading.Event | None = None) -> Path:
    """Train paper 001 as configured (``config.method_options`` → ``MixedConfig``); returns the model folder."""
    from weakseg.training.engine import Trainer

    return Trainer(config, build_method(config.method_options), progress, cancel).run()


def predict(case, model, config=None, progress=None, cancel: threading.Event | None = None, case_id: str | None = None):
    """Segment ``case`` with a trained model (slice-wise, argmax; the branches give per-slice probabilities)."""
    from weakseg.inference import segment_case

    return segment_case(case, model, config, progress, cancel, case_id=case_id)


def estimate_iteration(config) -> tuple[float, str]:
    """Seconds per training iteration of ``config`` (a TrainConfig), timed on real-size synthetic batches.

    The slice size comes from the dataset's first case (loaded through the cache), so the
    network, batch composition, augmentation and loss are exactly the run's; only the
    pixel values are random.
    """
    from weakseg.inference.engine import resolve_device
    from weakseg.training.data import dataset_folders, load_training_case
    from weakseg.training.presets import time_steps

    method = MixedMethod(MixedConfig.from_dict(config.method_options))
    cfg = method.config
    device = resolve_device(config.device)
    if config.threads and device.type == "cpu":
        torch.set_num_threads(config.threads)
    first = load_training_case(dataset_folders(config.dataset)[0], cfg.data_config(), cache_dir=config.cache_dir)
    network = method.build_network().to(device)
    multiple = network.config.multiple if network.config.same_padding else 1
    h, w = first.stack.shape[2:]
    h, w = h + (-h) % multiple, w + (-w) % multiple
    method.canvas = (h, w)
    rng = np.random.default_rng(0)
    per_batch = cfg.k + cfg.m + (cfg.n if cfg.branch else 0)
    n_seg = per_batch if cfg.branch and cfg.fill_weak_with_full else cfg.k + cfg.m  # as with no weak cases
    optimizer, _ = method.build_optimizer(network, config.iterations)

    def step() -> None:  # one batch; an iteration is batches_per_iteration of them and one optimiser step
        optimizer.zero_grad(set_to_none=True)
        images = torch.from_numpy(rng.standard_normal((per_batch, len(cfg.sequences), h, w), dtype=np.float32))
        masks = torch.from_numpy(rng.integers(0, 4 if cfg.mode == "multiclass" else 2, (n_seg, h, w)))
        if method.recipe is not None and method.recipe.augment:
            from weakseg.training.augment import augment, generator_from

            images, masks = augment(images, masks, method.recipe.augment_config, generator_from(rng))
        batch = {"images": images.to(device), "masks": masks.to(device)}
        if cfg.branch_classes:
            batch["branch_targets"] = torch.from_numpy(rng.integers(0, 2, (len(cfg.branch_classes), per_batch))).to(device)
        loss, _ = method.loss(network, batch)
        loss.backward()
        optimizer.step()

    seconds, steps = time_steps(step)
    seconds *= method.batches_per_iteration
    threads = torch.get_num_threads() if device.type == "cpu" else None
    where = f"{device.type}, {threads} thread{'s' if threads != 1 else ''}" if threads else str(device)
    return seconds, (f"timed on {steps} batch(es) of {per_batch} slices of {len(cfg.sequences)}x{h}x{w}, "
                     f"{method.batches_per_iteration} per iteration, on {where}")
