"""Self-training data for the weak-label payoff: a teacher's labels, filtered by the slice labels.

The teacher (the fold's full-n model, as ``weakseg segment`` runs it) segments each slice-labelled
training case. On every axial slice, its voxels of a tumour class are kept only if the slice
labels (derived from the ground truth after ``erosion`` in-plane erosions, exactly what mixed-n
trains on) say that class is present there; removed necrosis / enhancing voxels become edema
where edema is present on the slice (they lie inside the tumour), everything else background.
A missed class stays missed: slice labels cannot draw voxels.

The result is a dataset folder: the fully annotated cases and the images of the others as
symbolic links to the real data (never copied), the filtered labels as each pseudo case's
``*_seg.nii.gz``, and ``pseudo.json`` with per-case agreement figures (the pseudo-labels' Dice
against the truth before and after the filter; a diagnostic only, never used for training).
The folder appears at once, complete (built beside it, then renamed).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

CLASSES = {"necrosis": (1,), "edema": (2,), "enhancing": (3, 4)}
"""BraTS label values of each tumour class (enhancing is 4 in BraTS 2018, 3 in later releases)."""
EDEMA = 2


def axial_axis(image: sitk.Image) -> int:
    """The array axis (z, y, x order) along which ``image``'s slices are axial."""
    direction = np.array(image.GetDirection()).reshape(3, 3)
    return 2 - int(np.argmax(np.abs(direction[2])))


def filter_by_slice_labels(pred: np.ndarray, truth: np.ndarray, axis: int, erosion: int) -> np.ndarray:
    """``pred`` (BraTS values) with each class kept only on the slices where ``truth``'s slice labels have it."""
    from weakseg.labels.derive import slice_labels_from_mask
    from weakseg.labels.schema import PRESENT

    out = pred.copy()
    present = {name: slice_labels_from_mask(np.isin(truth, values), axis, erode_iterations=erosion) == PRESENT
               for name, values in CLASSES.items()}
    shape = [1] * pred.ndim
    shape[axis] = -1
    for name, values in CLASSES.items():
        absent = ~present[name].reshape(shape)
        drop = np.isin(pred, values) & absent
        if name == "edema":
            out[drop] = 0
        else:
            into_edema = drop & present["edema"].reshape(shape)
            out[into_edema] = EDEMA
            out[drop & ~into_edema] = 0
    return out


def _wt_dice(a: np.ndarray, b: np.ndarray) -> float:
    from weakseg.metrics import confusion, dice

    return round(float(dice(confusion(a > 0, b > 0))), 5)


def _link_case(source: Path, target: Path, with_seg: bool) -> Path | None:
    """Symbolic links to a case's images (and labels); returns its label file."""
    from weakseg.io.case import find_case_files

    target.mkdir(parents=True)
    files = find_case_files(source)
    for key, path in files.items():
        if key != "seg" or with_seg:
            os.symlink(path.resolve(), target / path.name)
    return files.get("seg")


def build_pseudo_dataset(target: Path, data: Path, teacher: Path, full: list[str], weak: list[str], erosion: int) -> dict:
    """Write the self-training dataset to ``target`` (see the module docstring); returns pseudo.json's content."""
    import torch

    from weakseg.inference import InferenceConfig
    from weakseg.io import load_case
    from weakseg.methods import predict_case
    from weakseg.models import load_model

    torch.set_num_threads(1)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for case_id in full:
        _link_case(data / case_id, tmp / case_id, with_seg=True)
    model = load_model(teacher)
    cases = {}
    for case_id in weak:
        started = time.time()
        seg_file = _link_case(data / case_id, tmp / case_id, with_seg=False)
        truth_image = sitk.ReadImage(str(seg_file))
        result = predict_case(load_case(data / case_id, log_warnings=False), model,
                              InferenceConfig(device="cpu", threads=1), case_id=case_id)
        pred = sitk.GetArrayFromImage(result.labels)
        truth = sitk.GetArrayFromImage(truth_image)
        if pred.shape != truth.shape:
            raise RuntimeError(f"{case_id}: prediction grid {pred.shape} differs from the labels' {truth.shape}")
        kept = filter_by_slice_labels(pred, truth, axial_axis(truth_image), erosion)
        image = sitk.GetImageFromArray(kept.astype(np.uint8))
        image.CopyInformation(truth_image)
        sitk.WriteImage(image, str(tmp / case_id / f"{case_id}_seg.nii.gz"), True)
        cases[case_id] = {"wt_dice_teacher": _wt_dice(pred, truth), "wt_dice_filtered": _wt_dice(kept, truth),
                          "voxels_teacher": int(np.count_nonzero(pred)), "voxels_filtered": int(np.count_nonzero(kept)),
                          "seconds": round(time.time() - started, 1)}
        print(f"{case_id}: {cases[case_id]}", flush=True)
    record = {"teacher": str(teacher), "full": full, "pseudo": weak, "erosion": erosion, "cases": cases}
    (tmp / "pseudo.json").write_text(json.dumps(record, indent=1) + "\n")
    shutil.rmtree(target, ignore_errors=True)  # an earlier, unfinished attempt
    os.replace(tmp, target)
    return record
