"""The standard 3D baseline of thesis ch. 2: the 2D-3D method's valid 3D U-Net on the MR channels alone.

Same options, stages, card and prediction as ``tumour-2d3d`` with no orientations (so no 2D
stage and no feature channels); only the method name differs, so cards and cross-validation
tables tell the two apart.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from weakseg.errors import WeakSegError
from weakseg.methods import MethodInfo
from weakseg.methods.tumour_2d3d import predict  # noqa: F401  (the same prediction path)
from weakseg.methods.tumour_2d3d import presets

METHOD = MethodInfo(
    name="tumour-3d", title="Standard 3D U-Net (thesis ch. 2 baseline)",
    help="The 2D-3D method's valid-padding 3D U-Net on the MR sequences only, without 2D context features",
    sequences=("flair", "t1", "t1c", "t2"), label_kinds=("full",), target="tumour")

DEFAULTS = {"orientations": []}


PRESETS = presets(orientations=False)


def build_method(options: dict[str, Any]):
    from weakseg.methods.tumour_2d3d import build_method as build

    return build({**DEFAULTS, **options}, METHOD.name)


def train(config, progress=None, cancel: threading.Event | None = None) -> Path:
    from weakseg.methods.tumour_2d3d.stages import train_all

    if config.method_options.get("orientations"):
        raise WeakSegError("method 'tumour-3d' has no 2D orientations; use 'tumour-2d3d' for 2D features")
    return train_all(config, METHOD.name, DEFAULTS, progress, cancel)


def estimate_iteration(config) -> tuple[float, str]:
    from weakseg.methods.tumour_2d3d import estimate_iteration as estimate

    return estimate(config, METHOD.name, DEFAULTS)
