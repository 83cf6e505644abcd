"""Segmentation metrics: per-case 3D overlap and surface distances, paper 002's per-slice
metrics, BraTS regions, the thesis's OAR metrics (all-voxel mean distance, 1-voxel-tolerant
Dice/PPV), and the per-case table with its summary.

Conventions (details in each module): arrays are (z, y, x) and spacing is given per array
axis (``array_spacing(image)`` reverses SimpleITK's (x, y, z)); both masks empty → Dice 1,
HD95 0; one empty → Dice 0, HD95 inf (or the volume diagonal, BraTS's penalty, with
``MetricsConfig(hd_empty="diagonal")``); non-finite values are left out of means and counted.
"""

from weakseg.metrics.case import METRICS, MetricsConfig, check_same_grid, evaluate_case, evaluate_masks
from weakseg.metrics.distance import array_spacing, diagonal_mm, distance_metrics, hd95, surface, surface_distances
from weakseg.metrics.overlap import confusion, dice, overlap_metrics, precision, sensitivity, specificity
from weakseg.metrics.pairing import case_id, collect, pair
from weakseg.metrics.slices import slice_auc, slice_classification, slice_dice, slice_dice_summary, slice_presence
from weakseg.metrics.table import case_rows, format_summary, summarize, to_csv, to_json, write_tables
from weakseg.metrics.tolerant import tolerant_scores
from weakseg.metrics.voxel_distance import hausdorff, mean_distance

__all__ = [
    "METRICS", "MetricsConfig", "array_spacing", "case_id", "case_rows", "check_same_grid", "collect", "confusion",
    "diagonal_mm", "dice", "distance_metrics", "evaluate_case", "evaluate_masks", "format_summary", "hausdorff", "hd95",
    "mean_distance", "overlap_metrics",
    "pair", "precision", "sensitivity", "slice_auc", "slice_classification", "slice_dice", "slice_dice_summary",
    "slice_presence", "specificity", "summarize", "surface", "surface_distances", "to_csv", "to_json", "tolerant_scores",
    "write_tables",
]
