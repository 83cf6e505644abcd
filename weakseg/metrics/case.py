"""Metrics of one case: a predicted label image against the true one, per BraTS region or per label.

Grids must match exactly (size, spacing, origin, direction): evaluating on mismatched
grids would silently compare different anatomy, so it is an error naming both files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

import numpy as np
import SimpleITK as sitk

from weakseg import brats
from weakseg.errors import WeakSegError
from weakseg.io.image import same_grid
from weakseg.metrics.distance import INF, array_spacing, diagonal_mm, distance_metrics
from weakseg.metrics.overlap import overlap_metrics
from weakseg.metrics.slices import SMOOTH, slice_dice_summary

METRICS = ("dice", "hd95_mm", "hd_mm", "assd_mm", "sensitivity", "specificity", "precision",
           "vol_pred_ml", "vol_truth_ml", "vol_diff_ml", "vol_diff_rel", "slice_dice", "slice_dice_tumour")
"""Every per-region metric, in table column order."""

Kind = Literal["brats", "labels"]


@dataclass(frozen=True)
class MetricsConfig:
    """Choices that change the numbers; the defaults follow the BraTS papers and paper 002.

    ``hd_empty``: the distance reported when a region is present in only one mask —
    ``"inf"`` (kept as inf, excluded from means and counted) or ``"diagonal"`` (the volume
    diagonal in mm, BraTS's ranking penalty: 373.13 mm for 240×240×155 at 1 mm).
    ``pooled_hd``: 95th percentile of the pooled surface distances (medpy, BraTS) or, when
    False, the larger directed 95th percentile (MONAI, surface-distance).
    """

    hd_empty: Literal["inf", "diagonal"] = "inf"
    pooled_hd: bool = True
    slice_axis: int = 0
    slice_smooth: float = SMOOTH

    def __post_init__(self) -> None:
        if self.hd_empty not in ("inf", "diagonal"):
            raise ValueError(f"hd_empty must be 'inf' or 'diagonal', not {self.hd_empty!r}")


def evaluate_masks(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, ...],
                   config: MetricsConfig = MetricsConfig()) -> dict[str, float]:
    """Every metric of one boolean mask pair; ``spacing`` is per array axis (z, y, x) in mm."""
    voxel_ml = float(np.prod(spacing)) / 1000.0
    out = overlap_metrics(pred, truth, voxel_ml)
    dist = distance_metrics(pred, truth, spacing, pooled=config.pooled_hd)
    if config.hd_empty == "diagonal":
        penalty = diagonal_mm(np.shape(pred), spacing)
        dist = {k: (penalty if v == INF else v) for k, v in dist.items()}
    out.update(dist)
    out.update(slice_dice_summary(pred, truth, axis=config.slice_axis, smooth=config.slice_smooth))
    return {k: out[k] for k in METRICS}


def _describe_grid(image: sitk.Image) -> str:
    fmt = lambda values: "(" + ", ".join(f"{v:g}" for v in values) + ")"  # noqa: E731
    return f"size {fmt(image.GetSize())}, spacing {fmt(image.GetSpacing())}, origin {fmt(image.GetOrigin())}"


def check_same_grid(pred: sitk.Image, truth: sitk.Image, pred_path: str | Path | None = None,
                    truth_path: str | Path | None = None) -> None:
    """Raise a one-line ``WeakSegError`` naming both files when the grids differ."""
    if same_grid(pred, truth):
        return
    raise WeakSegError(
        f"grid differs from the truth{' ' + str(truth_path) if truth_path else ''}: prediction {_describe_grid(pred)} "
        f"vs truth {_describe_grid(truth)}"
        + ("" if np.allclose(pred.GetDirection(), truth.GetDirection(), atol=1e-4) else " (direction differs)"), pred_path)


def label_array(image: sitk.Image, path: str | Path | None = None) -> np.ndarray:
    """Integer (z, y, x) label array; a non-integer label value is an error naming the file."""
    arr = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise WeakSegError("label image holds non-integer values; expected a label map", path)
        return arr.astype(np.int32)
    return np.asarray(arr)


def _brats_regions(labels: np.ndarray, path: str | Path | None) -> dict[str, np.ndarray]:
    try:
        return brats.regions(labels)
    except ValueError as exc:
        raise WeakSegError(f"not a BraTS label map: {exc}", path) from None


def _label_masks(labels: np.ndarray, names: Mapping[int, str]) -> dict[str, np.ndarray]:
    return {name: labels == value for value, name in names.items()}


def evaluate_case(pred: sitk.Image, truth: sitk.Image, kind: Kind = "brats",
                  label_names: Mapping[int, str] | None = None, *, config: MetricsConfig = MetricsConfig(),
                  pred_path: str | Path | None = None, truth_path: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Metrics per region: ``{"WT": {"dice": ..., "hd95_mm": ...}, "TC": ..., "ET": ...}``.

    ``kind="brats"`` derives WT/TC/ET from either label convention, detected separately in
    each image (a 2018-convention prediction can be scored against 2021-convention truth).
    ``kind="labels"`` scores each label value: those named in ``label_names`` ({value:
    name}), or else every non-zero value present in either image, named by its number.
    """
    check_same_grid(pred, truth, pred_path, truth_path)
    p, t = label_array(pred, pred_path), label_array(truth, truth_path)
    if kind == "brats":
        p_masks, t_masks = _brats_regions(p, pred_path), _brats_regions(t, truth_path)
    elif kind == "labels":
        if label_names is None:
            values = sorted((set(np.unique(p).tolist()) | set(np.unique(t).tolist())) - {0})
            label_names = {int(v): str(v) for v in values}
        p_masks, t_masks = _label_masks(p, label_names), _label_masks(t, label_names)
    else:
        raise ValueError(f"unknown kind {kind!r}; expected 'brats' or 'labels'")
    spacing = array_spacing(truth)
    return {name: evaluate_masks(p_masks[name], t_masks[name], spacing, config) for name in t_masks}
