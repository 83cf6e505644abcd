"""OAR inference: 1 mm LPS grid, three orientations through the shared slice engine, vote, §4.4 rules."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import SimpleITK as sitk
import torch

import weakseg
from weakseg.inference.engine import InferenceConfig, cpu_threads, predict_slices, resolve_device
from weakseg.inference.segment import SegmentationResult
from weakseg.methods.oar.data import _on_1mm, pick_input
from weakseg.methods.oar.sampling import PLANE_AXES
from weakseg.oar.classes import CLASSES, ORGANS
from weakseg.oar.intensity import foreground, normalise_head
from weakseg.oar.postprocess import PostConfig, postprocess
from weakseg.oar.rules import left_is_high_x_of, majority_vote


def head_box(array: np.ndarray, margin: int = 4) -> tuple[slice, ...]:
    where = np.argwhere(foreground(array))
    if not len(where):
        return tuple(slice(0, n) for n in array.shape)
    lo, hi = np.maximum(where.min(0) - margin, 0), np.minimum(where.max(0) + margin + 1, array.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def class_probabilities(network, image: np.ndarray, orientations, config: InferenceConfig, progress=None,
                        cancel=None) -> dict[str, np.ndarray]:
    """Per orientation, sigmoid probabilities (C, z, y, x) of each class head."""
    out = {}
    for orientation in orientations:
        axis, (a, b) = PLANE_AXES[orientation]
        stack = np.ascontiguousarray(np.transpose(image, (axis, a, b)))[None]
        probs, _ = predict_slices(network, stack, config, activation="sigmoid", progress=progress, cancel=cancel)
        inverse = np.argsort((axis, a, b))
        out[orientation] = np.transpose(probs, (0, *(1 + inverse)))
    return out


def thresholds_of(card) -> list[float]:
    """Per-class probability thresholds from the card (``inference.thresholds``; 0.5 when absent).

    The class-balanced loss weighs positives and negatives of each class equally whatever their
    counts, so its probabilities overstate small organs; a model's thresholds are chosen on its
    training sources (``experiments/oar_calibrate.py``), never on the cases it is scored on.
    """
    values = (card.inference or {}).get("thresholds")
    return [float(v) for v in values] if values else [0.5] * len(CLASSES)


def vote(probabilities: dict[str, np.ndarray], thresholds=None) -> dict[str, np.ndarray]:
    """Per class, a binary majority vote of the orientations (at least 2 of 3)."""
    thresholds = thresholds or [0.5] * len(CLASSES)
    return {name: majority_vote([p[c] > thresholds[c] for p in probabilities.values()])
            for c, name in enumerate(CLASSES)}


def labelmap(organs: dict[str, np.ndarray]) -> np.ndarray:
    """Exclusive uint8 labelmap in ``ORGANS`` order (smaller organs painted last win)."""
    out = np.zeros(next(iter(organs.values())).shape, np.uint8)
    for organ in ORGANS:
        out[organs[organ.name]] = organ.value
    return out


def segment_oar(case, model, config: InferenceConfig | None = None, progress=None,
                cancel: threading.Event | None = None, case_id: str | None = None) -> SegmentationResult:
    """Segment the organs at risk of ``case`` (its T1c, else its T1) with an OAR model; labels on the case grid."""
    config = config or InferenceConfig()
    card = model.card
    inference = card.inference or {}
    started = time.perf_counter()
    name = pick_input(case.images, tuple(inference.get("inputs", ("t1c", "t1"))), case.case_id)
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.threads or cpu_threads())
    work = _on_1mm(case.images[name], nearest=False)
    array = normalise_head(sitk.GetArrayFromImage(work))
    box = head_box(array)
    image = array[box]
    t_pre = time.perf_counter()
    run = replace(config, device=str(device), tta=False)
    probs = class_probabilities(model.network, image, inference.get("orientations", ("axial", "coronal", "sagittal")),
                                run, progress, cancel)
    t_pred = time.perf_counter()
    organs = postprocess(vote(probs, thresholds_of(card)), image, (1.0, 1.0, 1.0), left_is_high_x_of(work.GetDirection()), PostConfig())
    full = np.zeros(array.shape, np.uint8)
    full[box] = labelmap(organs)
    on_work = sitk.GetImageFromArray(full)
    on_work.CopyInformation(work)
    labels = sitk.Resample(on_work, case.grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    labels.CopyInformation(case.grid)
    mean = np.mean([p for p in probs.values()], axis=0).astype(np.float16)
    provenance = {
        "model_id": card.id, "model_version": card.version_label, "model_sha256": card.weights.get("sha256"),
        "method": card.method, "weakseg_version": weakseg.__version__, "torch_version": torch.__version__,
        "device": str(device), "input": name, "orientations": list(probs), "tta": False,
        "threads": torch.get_num_threads() if device.type == "cpu" else None, "case_id": case_id or case.case_id,
        "sources": {k: "withheld (case id given)" if case_id else str(v) for k, v in case.sources.items()},
        "working_grid": "1 mm LPS", "seconds": {"preprocess": round(t_pre - started, 3),
                                                "predict": round(t_pred - t_pre, 3),
                                                "total": round(time.perf_counter() - started, 3)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    table = slice_table(work, box, full[box], mean)
    result = SegmentationResult(labels, mean, box, list(CLASSES), table, provenance, list(card.labels))
    result._canonical = work
    return result


def slice_table(work: sitk.Image, box, labels: np.ndarray, probs: np.ndarray) -> list[dict]:
    """One row per axial slice of the 1 mm grid: highest class probability and voxels per organ."""
    rows = []
    z0 = box[0].start or 0
    for z in range(work.GetSize()[2]):
        row = {"slice": z, "z_mm": round(float(work.TransformIndexToPhysicalPoint((0, 0, z))[2]), 3)}
        inside = z0 <= z < z0 + labels.shape[0]
        for c, name in enumerate(CLASSES):
            row[f"p_{name}"] = round(float(probs[c, z - z0].max()), 4) if inside else 0.0
        for organ in ORGANS:
            row[f"voxels_{organ.name}"] = int(np.count_nonzero(labels[z - z0] == organ.value)) if inside else 0
        rows.append(row)
    return rows
