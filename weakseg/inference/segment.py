"""Segment one case with a loaded model: preprocessing, prediction, and back to the exact grid."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import SimpleITK as sitk
import torch

import weakseg
from weakseg.errors import WeakSegError
from weakseg.inference.engine import (InferenceConfig, Progress, _emit, as_float16, cpu_threads, predict_patches_3d,
                                      predict_slices, resolve_device)
from weakseg.io.case import Case
from weakseg.methods.recipe import classes_from_probabilities, region_class_probabilities
from weakseg.preprocess import Box, PreprocessConfig, from_canonical, prepare_channels, restore, to_canonical


@dataclass
class SegmentationResult:
    """What ``segment_case`` returns.

    labels: uint8 labelmap on the case's exact grid, with the card's label values.
    probabilities: float16 (K,z,y,x) softmax inside ``box`` of the canonical (LPS) grid;
      use :meth:`probability_image` for one class on the case grid.
    class_names: name of each probability channel ('background' first).
    slice_table: one dict per axial slice of the canonical grid (index, position, branch
      probabilities, voxels per label).
    provenance: model id and SHA-256, device, TTA, timings, versions.
    label_entries: the card's ``LabelEntry`` list (names, values, colours, SNOMED CT codes).
    masks: masks made on the way, on the labels' grid, by output kind (e.g. ``brain``: the
      preprocessing's brain mask), written beside the labels so a reviewer can see what the
      model was shown.
    warnings: what a reviewer must be told about this output (e.g. an organ not found, an
      anatomical rule broken); ``weakseg segment`` prints them, the worker passes them to Slicer.
    """

    labels: sitk.Image
    probabilities: np.ndarray
    box: Box
    class_names: list[str]
    slice_table: list[dict[str, Any]]
    provenance: dict[str, Any]
    label_entries: list = field(default_factory=list)
    _canonical: sitk.Image | None = None
    _grid: sitk.Image | None = None
    masks: dict[str, sitk.Image] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def probability_image(self, name: str) -> sitk.Image:
        """Probability of class ``name`` as a float32 image on the case grid (0 outside the brain box)."""
        if name not in self.class_names:
            raise WeakSegError(f"no class '{name}' (classes: {', '.join(self.class_names)})")
        array = self.probabilities[self.class_names.index(name)].astype(np.float32)
        full = np.zeros(self._canonical.GetSize()[::-1], dtype=np.float32)
        full[self.box] = array
        image = sitk.GetImageFromArray(full)
        image.CopyInformation(self._canonical)
        return from_canonical(image, self._grid) if self._grid is not None else image


def _canonical_case(case: Case) -> tuple[Case, bool]:
    """The case with axial slices along the array's first axis (LPS), and whether it was reoriented."""
    from weakseg.io.image import orientation_code

    if orientation_code(case.grid) == "LPS":
        return case, False
    images = {name: to_canonical(image) for name, image in case.images.items()}
    return replace(case, images=images, labels=None), True


def _slice_table(card, canonical: sitk.Image, box: Box, classes: np.ndarray, present: np.ndarray | None,
                 probs: np.ndarray) -> list[dict[str, Any]]:
    depth = canonical.GetSize()[2]
    names = {entry.class_index: entry.name for entry in card.labels}
    branch_names = card.branch_labels or [names[i] for i in sorted(names)]
    z0 = box[0].start or 0
    rows = []
    for z in range(depth):
        position = canonical.TransformIndexToPhysicalPoint((0, 0, z))[2]
        row: dict[str, Any] = {"slice": z, "z_mm": round(float(position), 3)}
        inside = z0 <= z < z0 + classes.shape[0]
        for b, name in enumerate(branch_names):
            if inside and present is not None and b < present.shape[0]:
                row[f"p_{name}"] = round(float(present[b, z - z0]), 4)
            elif inside and (b + 1) < probs.shape[0]:
                row[f"p_{name}"] = round(float(probs[b + 1, z - z0].max()), 4)
            else:
                row[f"p_{name}"] = 0.0
        for index, name in sorted(names.items()):
            row[f"voxels_{name}"] = int(np.count_nonzero(classes[z - z0] == index)) if inside else 0
        rows.append(row)
    return rows


def segment_case(case: Case, model, config: InferenceConfig | None = None, progress: Progress | None = None,
                 cancel: threading.Event | None = None, case_id: str | None = None) -> SegmentationResult:
    """Segment ``case`` with ``model`` (a ``LoadedModel``) and return labels on ``case.grid``.

    Nothing is written; see :func:`weakseg.inference.write_outputs`. Raises
    ``WeakSegError`` if the case lacks a sequence the model needs and ``Cancelled`` if
    ``cancel`` is set (checked between batches). ``case_id`` replaces the case's own id
    (often a folder named after the patient) in the provenance, which then withholds the
    source paths too.
    """
    config = config or InferenceConfig()
    card = model.card
    started = time.perf_counter()
    case.require(card.sequences)
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.threads or cpu_threads())
    _emit(progress, stage="preprocess", fraction=0.0)
    work, reoriented = _canonical_case(case)
    preprocess = PreprocessConfig(**card.preprocessing) if card.preprocessing else PreprocessConfig()
    stack, box = prepare_channels(work, card.sequences, preprocess)
    t_pre = time.perf_counter()
    inference = card.inference or {}
    regions = inference.get("output") == "regions"
    activation = "sigmoid" if regions else "softmax"
    tta = config.tta if config.tta is not None else bool(inference.get("tta", False))
    run_config = replace(config, device=str(device), tta=tta)
    if inference.get("mode", "slices2d") == "patches3d":
        patch = tuple(inference.get("patch_size", (128, 128, 128)))
        probs = predict_patches_3d(model.network, stack, replace(run_config, patch_size=config.patch_size or patch),
                                   activation=activation, progress=progress, cancel=cancel)
        present = None
    else:
        network = model.network
        if device.type == "cpu":  # batch norm folded, channels-last: same labels (tested), faster
            from weakseg.inference.fast_network import InferenceNetwork

            network = InferenceNetwork(network, inference.get("precision", "float32"))
        probs, present = predict_slices(network, stack, run_config, downsample=float(inference.get("inplane_downsample", 1)),
                                        activation=activation, progress=progress, cancel=cancel)
    t_pred = time.perf_counter()
    if cancel is not None and cancel.is_set():
        from weakseg.errors import Cancelled

        raise Cancelled()
    fraction = config.min_component_fraction
    if fraction is None:
        fraction = float(inference.get("min_component_fraction", 0.0))
    classes = classes_from_probabilities(probs, inference, fraction)  # argmax or nested regions, islands, small ET
    if regions:
        probs = region_class_probabilities(probs)
    lut = np.zeros(max(probs.shape[0], 1 + max(e.class_index for e in card.labels)), dtype=np.uint8)
    for entry in card.labels:
        lut[entry.class_index] = entry.value
    labels = restore(lut[classes], box, work)
    labels = sitk.Cast(labels, sitk.sitkUInt8)
    if reoriented:
        labels = from_canonical(labels, case.grid)
    labels.CopyInformation(case.grid)
    class_names = ["background"] + [e.name for e in sorted(card.labels, key=lambda e: e.class_index)]
    table = _slice_table(card, work.grid, box, classes, present, probs)
    provenance = {
        "model_id": card.id, "model_version": card.version_label, "model_sha256": card.weights.get("sha256"), "method": card.method,
        "weakseg_version": weakseg.__version__, "torch_version": torch.__version__, "device": str(device),
        "tta": tta, "min_component_fraction": fraction, "threads": torch.get_num_threads() if device.type == "cpu" else None, "case_id": case_id or case.case_id,
        "sources": {k: "withheld (case id given)" if case_id else str(v) for k, v in case.sources.items()},
        "reoriented_to_LPS": reoriented, "seconds": {"preprocess": round(t_pre - started, 3),
                                                     "predict": round(t_pred - t_pre, 3),
                                                     "total": round(time.perf_counter() - started, 3)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    series = getattr(case, "series_uids", None) or {}
    if series:
        provenance["series_uids"] = dict(series)
    dicom = case.dicom_provenance() if hasattr(case, "dicom_provenance") else None
    if dicom:
        provenance["dicom"] = dicom  # UIDs only: lets export-rtstruct check the reference is this patient's
    if case.warnings:
        provenance["input_warnings"] = list(case.warnings)
    _emit(progress, stage="done", fraction=1.0)
    return SegmentationResult(labels, as_float16(probs), box, class_names[:probs.shape[0]], table, provenance,
                              sorted(card.labels, key=lambda e: e.class_index), work.grid, case.grid if reoriented else None)
