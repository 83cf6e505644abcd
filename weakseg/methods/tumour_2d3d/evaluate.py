"""Probabilities of a trained 2D-3D (or standard 3D) model on a training-resolution stack: validation and CV.

The cross-validation driver scores every post-processing variant from these volumes
(experiments/tumour_cv.py's predictors take ``(model_dir, case folder, cache)``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from weakseg.methods.tumour_2d3d import common
from weakseg.methods.tumour_2d3d.config import Tumour2D3DConfig


def _mirrored_and_resized(predict, x: torch.Tensor, tta: bool, size: tuple[int, int] | None) -> np.ndarray:
    """``predict(x)`` → (K, z, h, w) probabilities; ``tta`` averages the left-right mirror, ``size`` resamples
    in-plane (bilinear) to the original resolution."""
    probs = predict(x)
    if tta:
        probs = 0.5 * (probs + predict(x.flip(-1)).flip(-1))
    if size is not None and tuple(size) != tuple(probs.shape[-2:]):
        probs = F.interpolate(probs.transpose(0, 1), size=tuple(size), mode="bilinear",
                              align_corners=False).transpose(0, 1)
    return probs.cpu().numpy()


@torch.no_grad()
def stack_probabilities(network, stack: np.ndarray, regions: bool, tta: bool = False,
                        size: tuple[int, int] | None = None, device: str | torch.device = "cpu") -> np.ndarray:
    """(K, z, h, w) probabilities of a cascade on a (C, z, h, w) stack; ``tta`` averages the left-right mirror;
    ``size`` brings them to the original in-plane resolution (bilinear)."""
    x = torch.from_numpy(np.asarray(stack, np.float32)).to(device)
    return _mirrored_and_resized(lambda v: common.probabilities(network.predict_stack(v), regions), x, tta, size)


@torch.no_grad()
def triplanar_probabilities(network, stack: np.ndarray, regions: bool, tta: bool = False,
                            size: tuple[int, int] | None = None) -> np.ndarray:
    """(K, z, h, w) mean of the cascade's 2D networks' probabilities alone (the triplanar 2D ensemble, no 3D
    network): what the 2D stage gives before the 3D network learns from it."""
    k = network.n_classes

    def mean_2d(volume: torch.Tensor) -> torch.Tensor:
        logits = network.features(volume)
        if logits.shape[0] == 0:
            raise ValueError("this model has no 2D networks (a standard 3D model): no triplanar 2D prediction")
        return torch.stack([common.probabilities(logits[i:i + k], regions)
                            for i in range(0, logits.shape[0], k)]).mean(0)

    return _mirrored_and_resized(mean_2d, torch.from_numpy(np.asarray(stack, np.float32)), tta, size)


def case_probabilities(model_dir: str | Path, folder: str | Path, cache: str | Path | None = None,
                       triplanar_2d: bool = False):
    """({tta: probabilities at the original resolution}, truth classes, regions flag) of one labelled case folder;
    ``triplanar_2d`` scores the 2D networks' mean instead of the 3D network."""
    from weakseg.models import load_model
    from weakseg.training.data import load_training_case

    model = load_model(model_dir)
    cfg = Tumour2D3DConfig.from_dict(model.card.training["method_config"], model.card.method)
    case = load_training_case(folder, cfg.data_config(), keep_full=True, cache_dir=cache)
    size = case.classes_full.shape[-2:]
    predict = triplanar_probabilities if triplanar_2d else stack_probabilities
    probs = {tta: predict(model.network, case.stack, cfg.regions, tta, size) for tta in (False, True)}
    return probs, case.classes_full, cfg.regions
