"""Paper 002 (Yoo et al.): whole-tumour segmentation from slice labels only, with quality flags.

Stages, one module each: ``classifier`` (C), ``seeds`` (RISE / Grad-CAM), ``gan`` (DCGAN
stage A, converting U-Net stage B, healthy variants), ``segment`` (S0, S_US, S_OS and L_M),
``refine`` (seed refinement), ``infer`` (blend, difference score, flags), ``case_prediction`` (a case
→ ``SegmentationResult``), ``review`` (drop flagged slices / mark for review at export),
``pipeline`` (the stages in order, each resumable and cached). Spec: docs/methods/gan-seeds.md.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from weakseg.methods import MethodInfo
from weakseg.training.presets import Preset

from .config import GanSeedsConfig

METHOD = MethodInfo(
    name="gan-seeds", title="Slice labels only (GAN seeds, paper 002)",
    help="Learns whole tumour from per-slice yes/no labels alone: a slice classifier, seeds from its explanations, "
         "a GAN that imagines the healthy slice, refined seeds; flags slices whose segmentation needs review",
    sequences=("flair",), label_kinds=("slices",), target="tumour")


CPU_BUDGET = {"iterations_classifier": 1000, "iterations_gan_a": 1500, "iterations_gan_b": 2000, "iterations_seg": 1500,
              "seed_method": "gradcam", "gradcam_blocks": [1, 3], "gradcam_negative_block": 3}
"""What the cross-validation and the shipped model used: about 25 min of one core for 22 cases
(docs/results/gan-seeds.md; Grad-CAM seeds, see its "Seeds" section for RISE against Grad-CAM)."""

PRESETS = {
    "cpu": Preset("cpu", "64 px slices, compact networks, Grad-CAM seeds; about 25 min of one core for 22 cases",
                  {"iterations": 1, "checkpoint_every": 200}, dict(CPU_BUDGET)),
    "gpu": Preset("gpu", "128 px slices, networks twice as wide, RISE seeds (2000 masks), 4x the iterations",
                  {"iterations": 1, "checkpoint_every": 500},
                  {"size": 128, "classifier_base": 24, "gan_base": 32, "unet_base": 24, "seed_method": "rise",
                   "rise_masks": 2000, "iterations_classifier": 4000, "iterations_gan_a": 6000,
                   "iterations_gan_b": 8000, "iterations_seg": 6000}),
    "paper": Preset("paper", "paper 002's sizes: 256 px slices, 64-wide networks, RISE with 4000 masks; sized for a GPU",
                    {"iterations": 1, "checkpoint_every": 1000},
                    {"size": 256, "classifier_base": 64, "gan_base": 64, "unet_base": 64, "seed_method": "rise",
                     "rise_masks": 4000, "iterations_classifier": 20000, "iterations_gan_a": 20000,
                     "iterations_gan_b": 40000, "iterations_seg": 40000}),
}
"""``weakseg train --method gan-seeds --preset cpu|gpu|paper`` (stage iterations are method options; the
engine-level ``iterations`` is unused by this staged method)."""


def build_method(options: dict[str, Any]):
    """The stage a checkpoint belongs to (``options['stage']``), for ``export_checkpoint``."""
    from . import classifier, gan, segment

    options = dict(options)
    stage = options.pop("stage", "classifier")
    cfg = GanSeedsConfig.from_dict(options)
    if stage == "classifier":
        return classifier.ClassifierStage(cfg)
    if stage in ("gan_a", "gan_b"):
        return (gan.GanAStage if stage == "gan_a" else gan.GanBStage)(cfg)
    return segment.SegStage(cfg, None, stage)


def train(config, progress=None, cancel: threading.Event | None = None) -> Path:
    """Every stage in order (resumable with ``config.resume``); returns the model folder."""
    from .pipeline import Pipeline

    return Pipeline(config, progress, cancel).run_all()


def predict(case, model, config=None, progress=None, cancel: threading.Event | None = None, case_id: str | None = None):
    from .case_prediction import predict as run

    return run(case, model, config, progress, cancel, case_id)


__all__ = ["GanSeedsConfig", "METHOD", "build_method", "predict", "train"]
