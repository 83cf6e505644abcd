"""From a clinical study to what the model was trained on, and the labels back onto the study.

``prepare`` checks the case against the model card's ``expects`` (``checks.assess``) and,
depending on the mode, returns None (fit as it is), refuses (unfit and ``none``, or not
fixable), or runs the steps the checks ask for (``auto``) or all of them (``force``):

1. ``register``: every other sequence rigidly onto the reference (``register.py``);
2. ``resample``: all sequences onto the 1 mm LPS working grid covering the reference;
3. ``n4`` (optional): N4 bias-field correction;
4. ``brain``: deepbet's brain mask (on T1, else T1c, else the reference), applied to all.

Every step is recorded with its parameters, quality figures and time for the provenance.
``segment_prepared`` segments the prepared case and resamples the labels onto the original
reference grid — the series the clinician reads and the RTSTRUCT references.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import SimpleITK as sitk

from weakseg.clinical.brain import DEEPBET_VERSION, BrainConfig, extract_brain
from weakseg.clinical.checks import Expects, Fitness, assess
from weakseg.clinical.grid import INTERPOLATIONS, labels_onto, resample_onto, working_grid
from weakseg.clinical.register import Registration, RegistrationConfig, register_rigid
from weakseg.errors import WeakSegError

log = logging.getLogger("weakseg")

MODES = ("auto", "none", "force")
STEPS = ("register", "resample", "n4", "brain")
BRAIN_SOURCES = ("t1", "t1c", "flair", "t2")
"""Sequence deepbet sees, first present wins: it was trained on T1-weighted images."""


@dataclass(frozen=True)
class ClinicalConfig:
    mode: str = "auto"
    n4: bool = False
    spacing_mm: float = 1.0
    interpolation: str = "cubic-slices"
    """Intensities onto the working grid (``weakseg.clinical.grid.INTERPOLATIONS``); chosen on held-out
    degradations: docs/results/clinical-input-interpolation.md."""
    brain: BrainConfig = field(default_factory=BrainConfig)
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise WeakSegError(f"unknown preprocessing mode '{self.mode}' (expected one of {', '.join(MODES)})")
        if self.interpolation not in INTERPOLATIONS:
            raise WeakSegError(f"unknown interpolation '{self.interpolation}' (expected {' or '.join(INTERPOLATIONS)})")


@dataclass
class Prepared:
    case: Any                   # weakseg.io.Case on the working grid
    original: Any               # the case as given
    fitness: Fitness
    steps: list[dict[str, Any]]
    brain_mask: sitk.Image | None = None
    registrations: dict[str, Registration] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        return {"problems": [p.message for p in self.fitness.problems], "measures": self.fitness.measures,
                "steps": self.steps}


def prepare(case, expects: Expects, config: ClinicalConfig = ClinicalConfig()) -> Prepared | None:
    """None when the case is fit as it is (``auto``/``none``); raises when it is unfit and cannot or may not be fixed."""
    fitness = assess(case, expects)
    unfixable = [p for p in fitness.problems if p.step is None]
    if unfixable:
        first = unfixable[0]
        raise WeakSegError(f"cannot be made fit for this model: {first.message}", first.where or None)
    if config.mode == "none":
        if fitness.problems:
            first = fitness.problems[0]
            raise WeakSegError(f"not what the model was trained on: {fitness.summary()}; run with --preprocess auto to "
                               "register, resample and skull-strip it", first.where or None)
        return None
    if config.mode == "auto" and fitness.fit:
        return None
    wanted = set(STEPS) - {"n4"} if config.mode == "force" else fitness.steps() | {"resample"}
    if config.n4:
        wanted.add("n4")
    return _run(case, fitness, wanted, config)


def _run(case, fitness: Fitness, wanted: set[str], config: ClinicalConfig) -> Prepared:
    from weakseg.io.case import assemble_case

    originals = getattr(case, "originals", None) or case.images
    ref_name = case.reference
    ref = originals[ref_name]
    steps: list[dict[str, Any]] = []
    registrations: dict[str, Registration] = {}
    transforms: dict[str, sitk.Transform] = {}
    for name, image in originals.items():
        if name == ref_name or "register" not in wanted:
            continue
        started = time.perf_counter()
        registrations[name] = reg = register_rigid(ref, image, config.registration)
        transforms[name] = reg.transform
        steps.append({"step": "register", "sequence": name, "onto": ref_name, "method": f"rigid, Mattes MI, {len(config.registration.shrink)} levels",
                      **reg.report(), "seconds": round(time.perf_counter() - started, 2)})
    started = time.perf_counter()
    grid = working_grid(ref, config.spacing_mm)
    images = {name: resample_onto(image, grid, transforms.get(name), interpolation=config.interpolation)
              for name, image in originals.items()}
    steps.append({"step": "resample", "grid_size": list(grid.GetSize()), "spacing_mm": config.spacing_mm,
                  "orientation": "LPS", "interpolation": config.interpolation, "seconds": round(time.perf_counter() - started, 2)})
    if "n4" in wanted:
        for name in list(images):
            started = time.perf_counter()
            images[name] = _n4(images[name])
            steps.append({"step": "n4", "sequence": name, "seconds": round(time.perf_counter() - started, 2)})
    mask = None
    if "brain" in wanted:
        source = next(s for s in (*BRAIN_SOURCES, ref_name) if s in images)
        started = time.perf_counter()
        mask = extract_brain(images[source], config.brain)
        volume = float(sitk.GetArrayViewFromImage(mask).sum()) * config.spacing_mm ** 3 / 1000.0
        images = {name: sitk.Mask(image, mask) for name, image in images.items()}
        steps.append({"step": "brain", "tool": f"deepbet {DEEPBET_VERSION}", "on": source, "volume_ml": round(volume, 1),
                      "dilate_mm": config.brain.dilate_mm, "seconds": round(time.perf_counter() - started, 2)})
    labels = None
    if case.labels is not None:
        labels = sitk.Resample(case.labels, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, case.labels.GetPixelID())
    prepared = assemble_case(case.case_id, images, dict(case.sources), labels, ref_name, log_warnings=False)
    prepared.series_uids, prepared.identity = dict(case.series_uids), case.identity
    return Prepared(prepared, case, fitness, steps, mask, registrations)


def _n4(image: sitk.Image, shrink: int = 4) -> sitk.Image:
    """N4 bias-field correction estimated on a shrunk copy (the field is smooth), applied at full resolution."""
    image = sitk.Cast(image, sitk.sitkFloat32)
    small = sitk.Shrink(image, [shrink] * 3)
    mask = sitk.OtsuThreshold(small, 0, 1, 200)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([50, 50, 30])
    corrector.Execute(small, mask)
    log_field = corrector.GetLogBiasFieldAsImage(image)
    return sitk.Cast(image / sitk.Exp(log_field), sitk.sitkFloat32)


def segment_prepared(prepared: Prepared, model, config, progress=None, cancel=None, case_id: str | None = None):
    """``segment_case`` on the prepared case, labels resampled back onto the original reference grid."""
    from weakseg.methods import predict_case

    result = predict_case(prepared.case, model, config, progress=progress, cancel=cancel, case_id=case_id)
    started = time.perf_counter()
    original_grid = prepared.original.grid
    result.labels = sitk.Cast(labels_onto(result.labels, original_grid), sitk.sitkUInt8)
    result.labels.CopyInformation(original_grid)
    if prepared.brain_mask is not None:  # what the model was shown, on the grid the clinician reviews
        brain = sitk.Cast(labels_onto(sitk.Cast(prepared.brain_mask, sitk.sitkUInt8), original_grid), sitk.sitkUInt8)
        brain.CopyInformation(original_grid)
        result.masks["brain"] = brain
    steps = list(prepared.steps) + [{"step": "labels back", "grid_size": list(original_grid.GetSize()),
                                     "spacing_mm": [round(s, 3) for s in original_grid.GetSpacing()],
                                     "method": "per-label coverage (anti-aliased linear)",
                                     "seconds": round(time.perf_counter() - started, 2)}]
    result.provenance["preprocessing"] = {**prepared.provenance(), "steps": steps,
                                          "slice_table_grid": "the 1 mm working grid"}
    return result


def segment_checked(case, model, config, mode: str = "auto", n4: bool = False, progress=None, cancel=None,
                    case_id: str | None = None, notify=None):
    """What ``weakseg segment`` and the worker's segment job both do: check, prepare if needed, segment.

    Returns (result, prepared or None); ``notify(line)`` hears what preprocessing did and why.
    """
    from weakseg.methods import input_warnings, predict_case

    case.require(model.card.sequences)
    before = input_warnings(case, model)  # on the case as loaded: preprocessing hides e.g. its slice thickness
    device = "cpu" if config.device in ("auto", "cpu") else config.device
    prepared = prepare(case, Expects.from_card(model.card), ClinicalConfig(mode=mode, n4=n4, brain=BrainConfig(device=device)))
    if prepared is None:
        result = predict_case(case, model, config, progress=progress, cancel=cancel, case_id=case_id)
    else:
        if notify is not None:
            notify(describe(prepared))
        result = segment_prepared(prepared, model, config, progress=progress, cancel=cancel, case_id=case_id)
    result.warnings[:0] = before
    if result.warnings:
        result.provenance["warnings"] = list(result.warnings)
    return result, prepared


def describe(prepared: Prepared | None) -> str:
    """One line for the terminal: what was done and why."""
    if prepared is None:
        return "input matches the model's training images; no preprocessing"
    done = ", ".join(dict.fromkeys(s["step"] for s in prepared.steps))
    return f"preprocessed ({done}) because: {prepared.fitness.summary()}"


__all__ = ["ClinicalConfig", "Prepared", "prepare", "segment_prepared", "segment_checked", "describe", "MODES"]

