"""OAR inference: 1 mm LPS grid, three orientations through the shared slice engine, vote, §4.4 rules."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import SimpleITK as sitk
import torch

import weakseg
from weakseg.inference.engine import InferenceConfig, as_float16, cpu_threads, predict_slices, resolve_device
from weakseg.inference.segment import SegmentationResult
from weakseg.methods.oar.data import _on_1mm, model_input
from weakseg.inference.fast_network import InferenceNetwork
from weakseg.methods.oar.sampling import PLANE_AXES
from weakseg.methods.oar.volume_floor import VolumeFloor, relax, warning
from weakseg.methods.oar.windows import WindowConfig, head_extent, put, slice_windows, take
from weakseg.oar.checks import anatomy_checks, review_warnings
from weakseg.oar.classes import CLASSES, ORGANS
from weakseg.oar.intensity import foreground, normalise_head
from weakseg.oar.postprocess import PostConfig, postprocess
from weakseg.oar.rules import left_is_high_x_of, majority_vote


CPU_BATCH = 4
"""Slices per forward pass on CPU: 4 keeps a batch's feature maps near the cache (measured 10-20 %
faster than 16, the engine's CPU cap; docs/results/oar-bench.md)."""


def head_box(array: np.ndarray, margin: int = 4) -> tuple[slice, ...]:
    """Bounding box of the foreground (``weakseg.oar.intensity.foreground``) grown by ``margin``: the outputs' box."""
    mask = foreground(array)
    box = []
    for axis in range(3):
        hits = np.flatnonzero(mask.any(tuple(i for i in range(3) if i != axis)))
        if not len(hits):
            return tuple(slice(0, n) for n in array.shape)
        box.append(slice(max(int(hits[0]) - margin, 0), min(int(hits[-1]) + margin + 1, array.shape[axis])))
    return tuple(box)


def class_probabilities(network, image: np.ndarray, orientations, config: InferenceConfig, progress=None,
                        cancel=None, window: WindowConfig | None = WindowConfig(),
                        precision: str = "float32") -> dict[str, np.ndarray]:
    """Per orientation, sigmoid probabilities (C, z, y, x) of each class head (0 outside the head's window).

    ``window`` None runs the network on every slice of the whole array (the reference the
    cropped path is checked against); otherwise only on the head's slices, each cut to an
    aligned window around the head (``weakseg.methods.oar.windows``). ``precision``: see
    ``InferenceNetwork`` (a network already wrapped keeps its own).
    """
    fast = network if isinstance(network, InferenceNetwork) else InferenceNetwork(network, precision)
    extent = head_extent(image, window.level) if window is not None else None
    multiple = getattr(getattr(network, "config", None), "multiple", 16)
    out = {}
    for orientation in orientations:
        axis, (a, b) = PLANE_AXES[orientation]
        moved = np.transpose(image, (axis, a, b))
        windows = (tuple((0, n) for n in moved.shape) if extent is None else
                   slice_windows(extent, image.shape, axis, (a, b), window, multiple))
        stack = take(moved, windows)[None]
        probs, _ = predict_slices(fast, stack, config, activation="sigmoid", progress=progress, cancel=cancel)
        full = np.zeros((probs.shape[0], *image.shape), np.float32)  # (C, z, y, x), contiguous for the vote
        put(np.transpose(full, (0, 1 + axis, 1 + a, 1 + b)), probs, windows)
        out[orientation] = full
    return out


def thresholds_of(card) -> list[float]:
    """Per-class probability thresholds from the card (``inference.thresholds``; 0.5 when absent).

    The class-balanced loss weighs positives and negatives of each class equally whatever their
    counts, so its probabilities overstate small organs; a model's thresholds are chosen on its
    training sources (``experiments/oar_calibrate.py``), never on the cases it is scored on.
    """
    values = (card.inference or {}).get("thresholds")
    return [float(v) for v in values] if values else [0.5] * len(CLASSES)


def scan_thresholds(card, probabilities: dict[str, np.ndarray]) -> tuple[list[float], list[str]]:
    """(the card's thresholds, relaxed on this scan where the card sets a volume floor; warnings for them)."""
    thresholds = thresholds_of(card)
    floor = VolumeFloor.from_card(card)
    if floor is None:
        return thresholds, []
    thresholds, relaxed = relax(probabilities, thresholds, floor)
    line = warning(relaxed)
    return thresholds, [line] if line else []


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
    name = model_input(case, card)
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.threads or cpu_threads())
    work = _on_1mm(case.images[name], nearest=False)
    array = normalise_head(sitk.GetArrayFromImage(work))
    box = head_box(array)
    image = array[box]
    t_pre = time.perf_counter()
    run = replace(config, device=str(device), tta=False,
                  batch_size=config.batch_size or (CPU_BATCH if device.type == "cpu" else None))
    network = InferenceNetwork(model.network, inference.get("precision", "float32"))
    probs = class_probabilities(network, image, inference.get("orientations", ("axial", "coronal", "sagittal")),
                                run, progress, cancel)
    t_pred = time.perf_counter()
    left_is_high_x = left_is_high_x_of(work.GetDirection())
    thresholds, threshold_warnings = scan_thresholds(card, probs)
    organs = postprocess(vote(probs, thresholds), image, (1.0, 1.0, 1.0), left_is_high_x, PostConfig())
    checks = anatomy_checks(organs, left_is_high_x)
    full = np.zeros(array.shape, np.uint8)
    full[box] = labelmap(organs)
    on_work = sitk.GetImageFromArray(full)
    on_work.CopyInformation(work)
    labels = sitk.Resample(on_work, case.grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    labels.CopyInformation(case.grid)
    mean = mean_probability(probs)
    provenance = {
        "model_id": card.id, "model_version": card.version_label, "model_sha256": card.weights.get("sha256"),
        "method": card.method, "weakseg_version": weakseg.__version__, "torch_version": torch.__version__,
        "device": str(device), "input": name, "orientations": list(probs), "tta": False,
        "threads": torch.get_num_threads() if device.type == "cpu" else None, "case_id": case_id or case.case_id,
        "sources": {k: "withheld (case id given)" if case_id else str(v) for k, v in case.sources.items()},
        "working_grid": "1 mm LPS",
        "network_precision": "bfloat16" if network.uses_bfloat16(device) else "float32",
        "network_window": "head extent, pooling-aligned (weakseg.methods.oar.windows)", "seconds": {"preprocess": round(t_pre - started, 3),
                                                "predict": round(t_pred - t_pre, 3),
                                                "total": round(time.perf_counter() - started, 3)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    provenance["anatomy_checks"] = checks
    provenance["thresholds"] = dict(zip(CLASSES, thresholds))
    table = slice_table(work, box, full[box], mean)
    result = SegmentationResult(labels, mean, box, list(CLASSES), table, provenance, list(card.labels),
                                warnings=threshold_warnings + review_warnings(organs, checks))
    result._canonical = work
    return result


def mean_probability(probabilities: dict[str, np.ndarray]) -> np.ndarray:
    """float16 mean of the orientations' probabilities, summed in place (no stacked copy of all three)."""
    arrays = list(probabilities.values())
    total = np.array(arrays[0], np.float32)
    for array in arrays[1:]:
        total += array
    total /= len(arrays)
    return as_float16(total)


def slice_table(work: sitk.Image, box, labels: np.ndarray, probs: np.ndarray) -> list[dict]:
    """One row per axial slice of the 1 mm grid: highest class probability and voxels per organ."""
    z0 = box[0].start or 0
    depth = labels.shape[0]
    top = probs.reshape(probs.shape[0], depth, -1).max(2).astype(np.float64)  # (C, z)
    counts = np.bincount((np.arange(depth)[:, None] * 256 + labels.reshape(depth, -1)).ravel(),
                         minlength=depth * 256).reshape(depth, 256)
    rows = []
    for z in range(work.GetSize()[2]):
        row = {"slice": z, "z_mm": round(float(work.TransformIndexToPhysicalPoint((0, 0, z))[2]), 3)}
        inside = z0 <= z < z0 + depth
        for c, name in enumerate(CLASSES):
            row[f"p_{name}"] = round(float(top[c, z - z0]), 4) if inside else 0.0
        for organ in ORGANS:
            row[f"voxels_{organ.name}"] = int(counts[z - z0, organ.value]) if inside else 0
        rows.append(row)
    return rows
