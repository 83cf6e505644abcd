"""HD95 of the payoff study's held-out predictions (tumour_cv's evaluate-unit scores Dice only).

Per finished unit, ``<unit>/hd95.json``: for each held-out case, the symmetric 95th-percentile
Hausdorff distance (mm, ``weakseg.metrics.hd95``) of WT and TC, and of ET for every candidate
small-ET threshold (only ET changes with it), on the headline variant's labels (left-right TTA,
island removal at recipe-2d's fraction). A region present in only one of prediction and truth has
no finite distance: it is stored as null and counted apart in the report.

    python experiments/weak_label_payoff.py hd95 [--configs full-5 mixed-5] [--folds 0]
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np


def _finite(value: float) -> float | None:
    return round(float(value), 3) if math.isfinite(value) else None


def case_hd95(probs: dict, truth: np.ndarray, regions: bool, spacing: tuple[float, ...], tta: bool, cc: float,
              thresholds) -> dict:
    from weakseg.inference.engine import drop_small_components
    from weakseg.methods.recipe import decode, small_et_to_core
    from weakseg.metrics.distance import hd95
    from weakseg.training.losses import REGION_CLASSES

    kept = drop_small_components(decode(probs[tta], regions), cc)
    region = lambda labels, r: np.isin(labels, REGION_CLASSES[r])  # noqa: E731
    out = {r: _finite(hd95(region(kept, r), region(truth, r), spacing)) for r in ("WT", "TC")}
    out["ET"] = {str(t): _finite(hd95(region(small_et_to_core(kept, t), "ET"), region(truth, "ET"), spacing))
                 for t in thresholds}
    return out


def unit_hd95(unit, test: list[str], data: Path, cache: Path, model_dir: Path | None = None) -> dict:
    """Score one unit (``model_dir``: where its model is, when another study trained it) and write hd95.json."""
    import SimpleITK as sitk

    from experiments import tumour_cv as cv
    from weakseg.io.atomic import write_text_atomic
    from weakseg.io.case import find_case_files

    started = time.time()
    predictor = cv.PREDICTORS[unit.spec.predictor]
    h = unit.spec.headline
    per_case = {}
    for case_id in test:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(find_case_files(data / case_id)["seg"]))
        reader.ReadImageInformation()
        spacing = tuple(reversed(reader.GetSpacing()))  # array (z, y, x) order
        probs, truth, regions = predictor(model_dir or unit.model_dir, data / case_id, cache)
        per_case[case_id] = case_hd95(probs, truth, regions, spacing, h.tta, h.cc, cv.ET_THRESHOLDS)
        print(f"{unit.spec.name} fold {unit.fold} {case_id}: {per_case[case_id]['WT']} mm WT", flush=True)
    result = {"config": unit.spec.name, "fold": unit.fold, "variant": {"tta": h.tta, "cc": h.cc},
              "seconds": round(time.time() - started, 1), "per_case": per_case}
    write_text_atomic(unit.folder / "hd95.json", json.dumps(result, indent=1) + "\n")
    return result
