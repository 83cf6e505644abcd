"""How long the 2D-3D method's stages take: a few real training steps of each on random data of the run's sizes.

The 2D slice canvas of each orientation comes from the dataset's first case (loaded through
the cache), the 3D step uses the configured patch, so network, batch, augmentation and loss
are the run's; only the values are random. Feature extraction between the stages is not
counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from weakseg.methods.tumour_2d3d.config import Tumour2D3DConfig
from weakseg.methods.tumour_2d3d.slices import SliceStage, orient
from weakseg.methods.tumour_2d3d.volumes import VolumeStage


def _step(stage, network, optimizer, batch: dict[str, torch.Tensor]) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss, _ = stage.loss(network, batch)
    loss.backward()
    optimizer.step()


def time_2d(cfg: Tumour2D3DConfig, orientation: str, shape: tuple[int, int, int], device) -> float:
    """Seconds per 2D iteration (all its batches) on slices of a (z, y, x) training stack of ``shape``."""
    from weakseg.training.augment import augment, generator_from
    from weakseg.training.presets import time_steps

    stage = SliceStage(cfg, orientation)
    network = stage.build_network().to(device).train()
    optimizer, _ = stage.build_optimizer(network, 1)
    m = network.config.multiple
    h, w = orient(np.empty((1, *shape), np.bool_), orientation).shape[2:]
    h, w = h + (-h) % m, w + (-w) % m
    rng = np.random.default_rng(0)
    n = cfg.slices_per_batch

    def step() -> None:
        images = torch.from_numpy(rng.standard_normal((n, len(cfg.sequences), h, w), dtype=np.float32))
        masks = torch.from_numpy(rng.integers(0, cfg.n_classes, (n, h, w)))
        if stage.recipe is not None and stage.recipe.augment:
            images, masks = augment(images, masks, stage.recipe.augment_config, generator_from(rng))
        _step(stage, network, optimizer, {"images": images.to(device), "masks": masks.to(device)})

    return time_steps(step, budget_seconds=6.0)[0] * stage.batches_per_iteration


def time_3d(cfg: Tumour2D3DConfig, device) -> float:
    """Seconds per 3D iteration (all its batches) at the configured patch size."""
    from weakseg.nn.cascade2d3d import Cascade2D3D
    from weakseg.training.presets import time_steps

    stage = VolumeStage(cfg)
    stage.channels = len(cfg.sequences)
    network = Cascade2D3D(cfg.network_config()).to(device).train()
    network.nets2d.requires_grad_(False)
    optimizer, _ = stage.build_optimizer(network, 1)
    rng = np.random.default_rng(0)
    channels = network.net3d.config.in_channels
    n, p = cfg.patches_per_batch, cfg.patch

    def step() -> None:
        images = torch.from_numpy(rng.standard_normal((n, channels, p, p, p), dtype=np.float32))
        masks = torch.from_numpy(rng.integers(0, cfg.n_classes, (n, p, p, p)))
        if stage.recipe is not None and stage.recipe.augment:
            images, masks = stage._augment(images, masks, rng)
        m = (p - stage.output) // 2
        target = masks[:, m:m + stage.output, m:m + stage.output, m:m + stage.output]
        _step(stage, network, optimizer, {"images": images.to(device), "masks": target.contiguous().to(device)})

    return time_steps(step, budget_seconds=8.0)[0] * stage.batches_per_iteration


def estimate(config, method: str, defaults: dict[str, Any] | None = None) -> tuple[float, str]:
    """(seconds per unit of ``config.iterations``, detail): the stages' total time spread over the run's iterations."""
    from weakseg.inference.engine import resolve_device
    from weakseg.training.data import dataset_folders, load_training_case

    options = {**(defaults or {}), **config.method_options, "stage": "3d"}
    cfg = Tumour2D3DConfig.from_dict(options, method)
    device = resolve_device(config.device)
    if config.threads and device.type == "cpu":
        torch.set_num_threads(config.threads)
    first = load_training_case(dataset_folders(config.dataset)[0], cfg.data_config(), cache_dir=config.cache_dir)
    shape = tuple(first.stack.shape[1:])
    iterations_2d = cfg.iterations_2d or config.iterations
    runs_2d = 1 + cfg.oof_folds + (len(cfg.sequences) if cfg.pretrain == "on" else 0)
    parts, total = [], 0.0
    for orientation in cfg.orientations:
        seconds = time_2d(cfg, orientation, shape, device)
        total += seconds * iterations_2d * runs_2d
        parts.append(f"2d-{orientation} {seconds:.2f} s x {iterations_2d} x {runs_2d}")
    seconds = time_3d(cfg, device)
    iterations_3d = cfg.iterations_3d or config.iterations
    total += seconds * iterations_3d
    parts.append(f"3d {seconds:.2f} s x {iterations_3d}")
    threads = torch.get_num_threads() if device.type == "cpu" else None
    where = f"{device.type}, {threads} thread{'s' if threads != 1 else ''}" if threads else str(device)
    return total / config.iterations, f"stages {'; '.join(parts)}; stack {shape}; on {where}; feature extraction not counted"
