"""Paper 002 (Yoo et al.): whole-tumour segmentation from slice labels only, with quality flags.

Stages, one module each: ``classifier`` (C), ``seeds`` (RISE / Grad-CAM), ``gan`` (DCGAN
stage A, converting U-Net stage B, healthy variants), ``segment`` (S0, S_US, S_OS and L_M),
``refine`` (seed refinement), ``infer`` (blend, difference score, flags), ``predict`` (a case
→ ``SegmentationResult``), ``review`` (drop flagged slices / mark for review at export),
``pipeline`` (the stages in order, each resumable and cached). Spec: docs/methods/gan-seeds.md.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from weakseg.methods import MethodInfo

from .config import GanSeedsConfig

METHOD = MethodInfo(
    name="gan-seeds", title="Slice labels only (GAN seeds, paper 002)",
    help="Learns whole tumour from per-slice yes/no labels alone: a slice classifier, seeds from its explanations, "
         "a GAN that imagines the healthy slice, refined seeds; flags slices whose segmentation needs review",
    sequences=("flair",), label_kinds=("slices",), target="tumour")


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
    from .predict import predict as run

    return run(case, model, config, progress, cancel, case_id)


__all__ = ["GanSeedsConfig", "METHOD", "build_method", "predict", "train"]
