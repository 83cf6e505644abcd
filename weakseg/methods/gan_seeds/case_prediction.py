"""Segment a case with a trained gan-seeds model: a 3D whole-tumour labelmap on the case's grid,
with each axial slice's classifier probability, difference score and review flag in the slice table."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import SimpleITK as sitk
import torch

import weakseg
from weakseg.inference.engine import InferenceConfig, cpu_threads, resolve_device
from weakseg.inference.segment import SegmentationResult, _canonical_case
from weakseg.preprocess import PreprocessConfig, from_canonical, prepare_channels, restore

from .bank import canvas_slices
from .infer import segment_slices


def slice_rows(grid: sitk.Image, box, out: dict[str, np.ndarray], classes: np.ndarray, name: str) -> list[dict[str, Any]]:
    """One row per axial slice of the canonical grid; slices outside the brain box are empty and unflagged."""
    z0 = box[0].start or 0
    rows = []
    for z in range(grid.GetSize()[2]):
        inside = z0 <= z < z0 + classes.shape[0]
        k = z - z0
        rows.append({"slice": z, "z_mm": round(float(grid.TransformIndexToPhysicalPoint((0, 0, z))[2]), 3),
                     f"p_{name}": round(float(out["p"][k]), 4) if inside else 0.0,
                     f"voxels_{name}": int(np.count_nonzero(classes[k])) if inside else 0,
                     "difference_score": round(float(out["d"][k]), 4) if inside else 1.0,
                     "flagged": bool(out["flagged"][k]) if inside else False})
    return rows


def predict(case, model, config: InferenceConfig | None = None, progress=None, cancel: threading.Event | None = None,
            case_id: str | None = None, stage_model: str | None = None, threshold: float | None = None
            ) -> SegmentationResult:
    """Paper 002's inference on every axial slice. ``stage_model``: None for the card's own ('combined_residual'
    when trained with ``residual_mask``, else the paper's 'combined'), 's0' / 'us' / 'os' for per-stage tables."""
    config = config or InferenceConfig()
    card = model.card
    if (card.inference or {}).get("mode") != "gan-seeds":
        from weakseg.errors import WeakSegError

        raise WeakSegError(f"model '{card.id}' is one stage of a gan-seeds run ({card.inference.get('stage', '?')}), "
                           "not a segmentation model; use the run's model/ folder")
    started = time.perf_counter()
    case.require(card.sequences)
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.threads or cpu_threads())
    model.network.to(device)
    work, reoriented = _canonical_case(case)
    stack, box = prepare_channels(work, card.sequences, PreprocessConfig("none"))
    settings = card.inference
    if stage_model is None:
        stage_model = "combined_residual" if settings.get("residual_mask") else "combined"
    images, share, canvas = canvas_slices(stack, int(settings["size"]))
    t = float(settings.get("threshold", 0.2) if threshold is None else threshold)
    t_pre = time.perf_counter()
    out = segment_slices(model.network, images, share >= float(settings.get("min_brain", 0.2)), t, stage_model,
                         cancel=cancel, progress=progress, residual=float(settings.get("residual", 0.25)))
    probability = np.clip(canvas.from_canvas(out["soft"]), 0, 1)
    entry = card.labels[0]
    classes = (probability > 0.5).astype(np.uint8)
    labels = sitk.Cast(restore(classes * entry.value, box, work), sitk.sitkUInt8)
    if reoriented:
        labels = from_canonical(labels, case.grid)
    labels.CopyInformation(case.grid)
    t_pred = time.perf_counter()
    table = slice_rows(work.grid, box, out, classes, entry.name)
    provenance = {
        "model_id": card.id, "model_version": card.version_label, "model_sha256": card.weights.get("sha256"),
        "method": card.method, "weakseg_version": weakseg.__version__, "torch_version": torch.__version__,
        "device": str(device), "tta": False, "stage_model": stage_model, "difference_threshold": t,
        "flagged_slices": [row["slice"] for row in table if row["flagged"]],
        "threads": torch.get_num_threads() if device.type == "cpu" else None, "case_id": case_id or case.case_id,
        "sources": {k: "withheld (case id given)" if case_id else str(v) for k, v in case.sources.items()},
        "reoriented_to_LPS": reoriented,
        "seconds": {"preprocess": round(t_pre - started, 3), "predict": round(t_pred - t_pre, 3),
                    "total": round(time.perf_counter() - started, 3)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "notes": "difference-score flags never catch missed tumour (empty slices score 1)",
    }
    if getattr(case, "series_uids", None):
        provenance["series_uids"] = dict(case.series_uids)
    dicom = case.dicom_provenance() if hasattr(case, "dicom_provenance") else None
    if dicom:
        provenance["dicom"] = dicom
    if case.warnings:
        provenance["input_warnings"] = list(case.warnings)
    probs = np.stack([1 - probability, probability]).astype(np.float16)
    return SegmentationResult(labels, probs, box, ["background", entry.name], table, provenance, [entry], work.grid,
                              case.grid if reoriented else None)
