"""Tiny 2D-3D configurations that train in seconds on one thread (imported by the tests here)."""

from __future__ import annotations

import json

TINY = {"sub_width": 2, "base": 4, "depth": 2, "widths3d": [2, 4, 4], "slices_per_batch": 4, "patches_per_batch": 1,
        "patch": 54, "tile": 58}
"""Every network at its smallest: 2D widths 2/4, 3D widths 2/4/4, 54³ → 14³ training patches, 58³ tiles."""


def write_config(path, dataset, out, method="tumour-2d3d", **changes):
    """A TrainConfig JSON for the tiny dataset (1 thread, CPU, no progress bar)."""
    options = {**TINY, **changes.pop("method_options", {})}
    config = {"method": method, "dataset": str(dataset), "out": str(out), "iterations": 3, "seed": 3,
              "checkpoint_every": 1, "log_every": 1, "threads": 1, "device": "cpu", "progress_bar": False,
              "validation_cases": ["Phantom_0002"], "method_options": options, **changes}
    path.write_text(json.dumps(config))
    return path
