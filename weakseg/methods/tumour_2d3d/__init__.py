"""Thesis ch. 2: the 2D-3D tumour model (2D networks per orientation → logit features → valid 3D U-Net).

Training runs in resumable stages (``stages``): optional subnetwork pretraining per sequence
(missing sequences, spec §2.6), the multi-sequence 2D network in each orientation, optional
out-of-fold copies, then the 3D network on MR + cached feature channels with 70³ patches.
The model is one ``cascade2d3d`` network; prediction runs it through the shared segmentation
path (``segment_case``: preprocessing, 3D engine, recipe decoding, restore to the case grid)
with the patch set to the case's grid, so the network sees the whole volume. The standard 3D
baseline is the same method without orientations (``weakseg.methods.tumour_3d``); the fusion
of several models is ``fusion.hierarchical_vote``. Spec: docs/methods/thesis-2d3d-oar.md.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from weakseg.methods import MethodInfo
from weakseg.methods.tumour_2d3d.config import Tumour2D3DConfig
from weakseg.methods.tumour_2d3d.fusion import hierarchical_vote

METHOD = MethodInfo(
    name="tumour-2d3d", title="2D-3D tumour model (thesis ch. 2)",
    help="2D networks with modality-specific subnetworks in axial, coronal and sagittal slices give long-range "
         "context features to a 3D U-Net",
    sequences=("flair", "t1", "t1c", "t2"), label_kinds=("full",), target="tumour")


CPU_OPTIONS = {"inplane_downsample": 2, "subnet": "conv3", "sub_width": 4, "base": 8, "widths3d": [8, 16, 32],
               "patch": 70, "tile": 126, "patches_per_batch": 2, "iterations_2d": 2000, "optimizer": "adamw",
               "lr": 0.001, "schedule": "cosine", "normalisation": "zscore"}
"""Sized for a 2-core CPU: 2D model 2 (conv3 subnetworks) at 2x in-plane downsampling, a small 3D U-Net."""


def presets(orientations: bool = True) -> dict:
    """cpu / gpu / paper presets (``weakseg train --preset``); ``orientations=False`` for the standard 3D."""
    from weakseg.training.presets import Preset

    extra = {} if orientations else {"orientations": []}
    what = "2D-3D" if orientations else "standard 3D"
    return {
        "cpu": Preset("cpu", f"{what}, CPU size: conv3 2D subnetworks (width 4, base 8) at 2x downsampling, 3D 8/16/32",
                      {"iterations": 3000 if orientations else 6000, "checkpoint_every": 100}, {**CPU_OPTIONS, **extra}),
        "gpu": Preset("gpu", f"{what}, GPU size: full resolution, 2D width 16 / base 32, 3D 32/64/128",
                      {"iterations": 10000, "amp": True, "checkpoint_every": 250},
                      {**CPU_OPTIONS, "inplane_downsample": 1, "sub_width": 16, "base": 32, "widths3d": [32, 64, 128],
                       "patches_per_batch": 4, "iterations_2d": 10000, **extra}),
        "paper": Preset("paper", f"{what} as in the thesis: 2D model 1 (width 32, base 64), 3D 32/64/128, "
                                 "normalised-gradient SGD, thesis recipe; sized for a GPU",
                        {}, {"subnet": "unet", "sub_width": 32, "base": 64, "widths3d": [32, 64, 128],
                             "optimizer": "ngsgd", "recipe": None, "normalisation": "median",
                             "upsample3d": "trilinear", "inplane_downsample": 1, **extra}),
    }


PRESETS = presets()


def build_method(options: dict[str, Any], method: str = METHOD.name):
    """The training stage named in ``options['stage']`` (default the final 3D stage)."""
    from weakseg.methods.tumour_2d3d.stages import build_stage

    return build_stage(options, method)


def train(config, progress=None, cancel: threading.Event | None = None) -> Path:
    """Every stage as configured (``config.method_options`` → ``Tumour2D3DConfig``); the model folder."""
    from weakseg.methods.tumour_2d3d.stages import train_all

    return train_all(config, METHOD.name, None, progress, cancel)


def brain_box_shape(case, card) -> tuple[int, int, int]:
    """(z, y, x) size of the brain box the shared segmentation path will crop the case to (same steps:
    LPS reorientation, brain mask of the card's sequences, bounding box with the card's margin)."""
    import SimpleITK as sitk

    from weakseg.inference.segment import _canonical_case
    from weakseg.preprocess import bounding_box, brain_mask

    case.require(card.sequences)
    work, _ = _canonical_case(case)
    mask = brain_mask([sitk.GetArrayViewFromImage(work.images[name]) for name in card.sequences])
    box = bounding_box(mask, int((card.preprocessing or {}).get("margin", 0)))
    return tuple(int(b.stop - b.start) for b in box)


def predict(case, model, config=None, progress=None, cancel: threading.Event | None = None, case_id: str | None = None):
    """Segment ``case``: the brain box in one window of the shared 3D engine (the network tiles itself), so no
    voxel is predicted twice and no array is larger than the box."""
    from weakseg.inference import InferenceConfig, segment_case

    config = config or InferenceConfig()
    if model.card.network.get("name") == "cascade2d3d" and config.patch_size is None:
        config = replace(config, patch_size=brain_box_shape(case, model.card))
    return segment_case(case, model, config, progress, cancel, case_id=case_id)


def estimate_iteration(config, method: str = METHOD.name, defaults: dict[str, Any] | None = None) -> tuple[float, str]:
    """Seconds per ``config.iterations`` unit: every stage's steps timed on random data of the run's sizes."""
    from weakseg.methods.tumour_2d3d.timing import estimate

    return estimate(config, method, defaults)


__all__ = ["METHOD", "Tumour2D3DConfig", "build_method", "estimate_iteration", "hierarchical_vote", "predict", "train"]
