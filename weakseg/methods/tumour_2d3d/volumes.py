"""The 3D stage: 2D logit features of every training case (cached), then the valid 3D U-Net on patches.

The features of a case are a pure function of its training stack and the 2D networks'
weights, so they are cached under that digest as memory-mapped .npy files
(``weakseg.training.cache``'s atomic entries; the entry name holds no case id): a resumed or
repeated run reads them back instead of recomputing. With out-of-fold features each case's
maps come from the 2D networks trained without its fold (spec §8 #6). The feature channels
are z-scored with their brain-voxel mean and standard deviation over the training cases (spec
§8 #5), stored in the network's buffers so prediction uses the same scaling.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.methods.tumour_2d3d import common
from weakseg.methods.tumour_2d3d.config import Tumour2D3DConfig
from weakseg.nn.cascade2d3d import Cascade2D3D
from weakseg.nn.unet3d_valid import valid_output_size_3d
from weakseg.training.data import DataConfig, TrainingCase
from weakseg.training.patches3d import PatchConfig, PatchSampler

FEATURE_FORMAT = 1
"""Bumped when cached feature maps change meaning."""


def feature_key(case: TrainingCase, nets: list[nn.Module], data: DataConfig) -> str:
    """Digest of what a case's features depend on: its stack, the preprocessing and the 2D weights."""
    from weakseg.training.distributed import state_digest

    digest = hashlib.sha256(json.dumps([FEATURE_FORMAT, data.key(), list(case.stack.shape)]).encode())
    digest.update(np.ascontiguousarray(case.stack).tobytes())
    for net in nets:
        digest.update(state_digest(net).encode())
    return digest.hexdigest()[:32]


def case_features(case: TrainingCase, network: Cascade2D3D, cache_dir: Path | None, data: DataConfig,
                  device: torch.device) -> np.ndarray:
    """(F, z, h, w) float16 raw logits of ``network``'s 2D networks on the case, from the cache when there."""
    from weakseg.training import cache

    entry = cache_dir / f"features-{feature_key(case, list(network.nets2d.values()), data)}" if cache_dir else None
    if entry is not None:
        found = cache.read_entry(entry)
        if found is not None:
            return found[1]["features"]
    network.nets2d.to(device)
    maps = network.features(torch.from_numpy(np.asarray(case.stack, np.float32)).to(device)).cpu().numpy()
    maps = maps.astype(np.float16)
    if entry is not None:
        cache.write_entry(entry, {"shape": list(maps.shape)}, {"features": maps})
        return cache.read_entry(entry)[1]["features"]
    return maps


def brain_of(case: TrainingCase) -> np.ndarray:
    return (np.asarray(case.stack) != 0).any(0)


class VolumeStage:
    """What the training engine drives for the 3D stage (see the module docstring).

    models2d: orientation → folder of its trained 2D stage model (what prediction uses);
    fold_models: orientation → per-fold model folders (out-of-fold features), or {} for in-sample;
    fold_of: case id → fold index.
    """

    name = "tumour-2d3d"

    def __init__(self, config: Tumour2D3DConfig, models2d: dict[str, Path] | None = None,
                 fold_models: dict[str, list[Path]] | None = None, fold_of: Callable[[str], int] | None = None,
                 cache_dir: Path | None = None, device: str | torch.device = "cpu", method: str = "tumour-2d3d",
                 stages: dict[str, Any] | None = None, expects: dict[str, Any] | None = None):
        self.config = config
        self.models2d = dict(models2d or {})
        self.fold_models = dict(fold_models or {})
        self.fold_of = fold_of
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.device = torch.device(device)
        self.method = method
        self.stages = dict(stages or {})
        self.expects = dict(expects or {})
        self.loss_fn = common.segmentation_loss(config, "3d")
        self.recipe = config.recipe_config
        self.output = valid_output_size_3d(config.patch)

    def data_config(self) -> DataConfig:
        return self.config.data_config()

    def _cascade_with(self, folders: dict[str, Path]) -> Cascade2D3D:
        from weakseg.models.registry import load_model

        network = Cascade2D3D(self.config.network_config())
        if not folders:  # checkpoint export: the checkpoint holds every weight
            return network
        for orientation in self.config.orientations:
            if orientation not in folders:
                raise WeakSegError(f"no trained 2D network for orientation '{orientation}'")
            network.nets2d[orientation].load_state_dict(load_model(folders[orientation]).network.state_dict())
        network.nets2d.requires_grad_(False)
        return network

    def build_network(self) -> nn.Module:
        return self._cascade_with(self.models2d)

    @property
    def batches_per_iteration(self) -> int:
        return self.config.per_iteration("3d")

    def _features(self, cases: list[TrainingCase], network: Cascade2D3D) -> list[np.ndarray]:
        if not self.config.orientations:
            return [np.zeros((0, *c.stack.shape[1:]), np.float16) for c in cases]
        data = self.data_config()
        if not self.fold_models:
            return [case_features(c, network, self.cache_dir, data, self.device) for c in cases]
        folds = {}
        out = []
        for case in cases:
            fold = self.fold_of(case.case_id)
            if fold not in folds:
                folds[fold] = self._cascade_with({o: paths[fold] for o, paths in self.fold_models.items()})
            out.append(case_features(case, folds[fold], self.cache_dir, data, self.device))
        return out

    def prepare(self, cases: list[TrainingCase], network: nn.Module) -> dict[str, int]:
        if not cases:
            raise WeakSegError("no training cases")
        if any(not c.full for c in cases):
            raise WeakSegError("the 2D-3D method trains on fully annotated cases only", cases[0].case_id)
        features = self._features(cases, network)
        brains = [brain_of(c) for c in cases]
        if self.config.orientations:  # z-score each feature channel over the training brain voxels
            sums = np.zeros(network.config.feature_channels)
            squares = np.zeros_like(sums)
            count = 0
            for maps, brain in zip(features, brains):
                values = np.asarray(maps)[:, brain].astype(np.float64)
                sums += values.sum(1)
                squares += (values ** 2).sum(1)
                count += values.shape[1]
            mean = sums / max(count, 1)
            std = np.sqrt(np.maximum(squares / max(count, 1) - mean ** 2, 1e-12))
            network.feature_mean.copy_(torch.from_numpy(mean).float())
            network.feature_std.copy_(torch.from_numpy(std).float())
        self.mean, self.std = network.feature_mean.cpu().numpy(), network.feature_std.cpu().numpy()
        self.channels = len(self.config.sequences)
        patch = PatchConfig(self.config.patch, self.output, self.config.tumour_fraction, self.config.max_redraws)
        self.sampler = PatchSampler([(c.stack, f) for c, f in zip(cases, features)], [c.classes for c in cases],
                                    brains, patch, self.config.n_classes)
        return {"cases": len(cases), "tumour_voxels": int(sum(len(t) for t in self.sampler.tumour)),
                "brain_centres": int(sum(len(b) for b in self.sampler.brain))}

    def draw_batch(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        inputs, labels, inside = self.sampler.draw(rng, self.config.patches_per_batch)
        c = self.channels
        if inputs.shape[1] > c:  # z-scored features; zero outside the volume, as tiling pads
            shape = (1, -1, 1, 1, 1)
            inputs[:, c:] = (inputs[:, c:] - self.mean.reshape(shape)) / self.std.reshape(shape) * inside[:, None]
        images, masks = torch.from_numpy(inputs), torch.from_numpy(labels)
        if self.recipe is not None and self.recipe.augment:
            images, masks = self._augment(images, masks, rng)
        elif self.recipe is None:  # the thesis: a share mirrored left-right
            flips = rng.choice(len(images), int(round(self.config.flip_fraction * len(images))), replace=False)
            images[flips], masks[flips] = torch.flip(images[flips], (-1,)), torch.flip(masks[flips], (-1,))
        return {"images": images.contiguous(), "masks": self.sampler.target(masks).contiguous()}

    def _augment(self, images: torch.Tensor, masks: torch.Tensor, rng: np.random.Generator):
        """Spatial changes on every channel and the labels alike; intensity changes on the MR channels only
        (gamma or noise on logit maps would change what the 2D networks said)."""
        from weakseg.training.augment import AugmentConfig, augment, generator_from

        options = self.recipe.augment_config.to_dict()
        spatial = AugmentConfig.from_dict({**options, "p_gamma": 0.0, "p_noise": 0.0, "p_intensity": 0.0})
        g = generator_from(rng)
        images, masks = augment(images, masks, spatial, g)
        c = self.channels
        intensity = AugmentConfig.from_dict({**options, "p_flip": 0.0, "p_rotate": 0.0, "p_scale": 0.0, "p_elastic": 0.0})
        mr, _ = augment(images[:, :c], None, intensity, g)
        return torch.cat([mr, images[:, c:]], 1), masks

    def loss(self, network: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        value = self.loss_fn(network(batch["images"], patches=True), batch["masks"])
        return value, {"loss": value.detach().item()}

    def build_optimizer(self, network: nn.Module, iterations: int):
        return common.build_optimizer(self.config, network, iterations)

    @torch.no_grad()
    def validate(self, network: nn.Module, cases: list[TrainingCase], device: torch.device) -> dict[str, float]:
        from weakseg.methods.tumour_2d3d.evaluate import stack_probabilities

        was_training = network.training
        network.eval()
        scores = [common.region_dice(stack_probabilities(network, c.stack, self.config.regions, device=device),
                                     c.classes_full, self.config.regions) for c in cases if c.classes_full is not None]
        network.train(was_training)
        return common.mean_scores(scores)

    def model_card(self, model_id: str, training: dict[str, Any], metrics: dict[str, Any], licence: str,
                   description: str):
        cfg = self.config
        net = cfg.network_config()
        pipeline = (f"2D networks ({', '.join(cfg.orientations)}) → logit features → valid 3D U-Net "
                    f"({cfg.patch}³ → {self.output}³ in training, {net.tile}³ tiles at inference)"
                    if cfg.orientations else f"standard 3D: valid 3D U-Net on MR channels ({net.tile}³ tiles)")
        inference = {"mode": "patches3d", "patch_size": [192, 240, 240], "pipeline": pipeline,
                     "inplane_downsample": cfg.inplane_downsample,
                     "note": "the network takes whole volumes; predict sets the patch to the case's brain box"}
        training = {**training, "stages": self.stages, "feature_scaling": "z-score over training brain voxels",
                    "features": "out-of-fold" if self.fold_models else "in-sample" if cfg.orientations else "none"}
        card = common.model_card(cfg, self.method, {"name": "cascade2d3d", "config": net.to_dict()},
                                 list(cfg.sequences), inference, model_id, training, metrics, licence, description)
        card.expects = dict(self.expects)  # the training images' voxel size, for the input checks
        return card
