"""Paper 000: EMReDL, infiltration beyond the visible tumour from two drawn masks (core, FLAIR abnormality).

Stage A, an evidential voxel classifier on physiological maps (``prior``), gives a prior
tumour probability and its vacuity over ROI2 = FLAIR − core; stage B, a 2D U-Net on every
channel, is trained with partial cross-entropy on ROI1/ROI3 plus an EM term on ROI2 whose
soft targets mix prior and CNN (``method``). λ = 0 is the PCE baseline. A trained model is
applied with ``weakseg infiltration`` or Slicer's Tumor module (``infiltration``), which
give the probability map, "Core tumour" / "Infiltrated tumour" / "Non-infiltrated oedema"
and their volumes at a threshold τ. Spec: docs/methods/emredl.md.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from weakseg.errors import WeakSegError
from weakseg.methods import MethodInfo
from weakseg.training.presets import Preset

METHOD = MethodInfo(
    name="emredl", title="EMReDL infiltration (paper 000)",
    help="Learns where the tumour infiltrates the oedema from an enhancing-core mask and a FLAIR mask, "
         "using physiological maps (DTI, perfusion) when present",
    sequences=("flair", "t1", "t1c", "t2"), label_kinds=("regions",), target="infiltration")


REPORTED = {"base": 16, "depth": 3, "batch_size": 8, "lr": 1e-3, "prior_epochs": 1000, "prior_lr": 3e-3,
            "prior_batch": 20000, "prior_patience": 1000, "prior_hidden": 32, "prior_exclude_necrosis": True}
"""docs/results/emredl.md's setting (chosen on development phantoms only; stage B 400 iterations), shared by
``experiments/emredl_report.py`` and the cpu preset."""
REPORTED_EM = {"loss_normalisation": "labelled"}
"""The reported setting of the EM term alone (with λ = 0, the PCE baseline, it changes nothing)."""


PRESETS = {
    "cpu": Preset("cpu", "the reported phantom setting: 2D U-Net base 16, depth 3, Adam 1e-3, 400 iterations; "
                         "stage A width 32, 1000 epochs, drawn necrosis left out; one sum over labelled voxels",
                  {"iterations": 400, "checkpoint_every": 50}, {**REPORTED, **REPORTED_EM}),
    "paper": Preset("paper", "paper 000's stage B (U-Net base 32, depth 4, Adam 1e-4) and stage A (width = number of "
                             "channels, 1000 epochs, lr 1e-4, batches of 5e4 voxels); sized for a GPU",
                    {"checkpoint_every": 200}, {"base": 32, "depth": 4, "lr": 1e-4}),
}
"""``weakseg train --method emredl --preset cpu|paper`` (no gpu preset yet: nothing was measured on one)."""


def build_method(options: dict[str, Any]):
    from weakseg.methods.emredl.config import EMReDLConfig
    from weakseg.methods.emredl.method import EMReDLMethod

    return EMReDLMethod(EMReDLConfig.from_dict(dict(options)))


def train(config, progress=None, cancel: threading.Event | None = None) -> Path:
    """Train stage A then stage B as configured (``config.method_options`` → ``EMReDLConfig``)."""
    from weakseg.methods.emredl.method import EMReDLTrainer
    from weakseg.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

    method = build_method(config.method_options)
    checkpoint = Path(config.out) / CHECKPOINT_NAME if config.out else None
    if config.resume and checkpoint is not None and checkpoint.is_file():
        method.start_iteration = int(load_checkpoint(checkpoint)["iteration"])  # E-step epochs continue from here
    return EMReDLTrainer(config, method, progress, cancel).run()


def predict(case, model, config=None, progress=None, cancel=None, case_id=None):
    raise WeakSegError(f"model '{model.card.id}' is an EMReDL infiltration model: it needs the core and FLAIR masks "
                       "and its channels; run it with 'weakseg infiltration' or the Tumor module's infiltration section")
