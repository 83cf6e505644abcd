"""5-fold cross-validation of the tumour configurations on the 22 BraTS 2018 development cases.

Each (configuration, fold) is a resumable unit: it trains in its own process (one torch
thread, checkpoints every 100 iterations, written atomically) and is then evaluated on its
held-out fold; a unit whose ``eval.json`` exists is done. The same ``run`` command started
again (after a kill, or in a later session) continues where it stopped:

    nohup nice -n 10 python experiments/tumour_cv.py run > /work/runs/tumour-cv/runner.out 2>&1 &
    python experiments/tumour_cv.py status     # per unit: pending / training i/N (ETA) / done
    python experiments/tumour_cv.py report     # docs/results/tumour-accuracy.{md,json} + figures

Folds: seeded (2018), stratified by grade (20 HGG, 2 LGG): each stratum is permuted and dealt
round-robin into the folds, so both LGG cases never share a fold. Units run fold by fold (every
configuration of fold 0, then fold 1, ...) so paired comparisons grow together.

Evaluation keeps the probabilities of every held-out case in memory and scores many inference
variants at once (TTA on/off, island removal on/off, "small ET becomes core" thresholds); the
report chooses the ET threshold for fold k on the *other* folds' out-of-fold cases (training
cases of fold k), never on fold k. Adding a configuration is one ``Spec`` entry in ``CONFIGS``.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "brats18"
STATE = ROOT.parent / "runs" / "tumour-cv"
CACHE = ROOT.parent / "cache" / "weakseg"
RESULTS = ROOT / "docs" / "results"
SEED = 2018
FOLDS = 5
LGG = ("Brats18_TCIA10_637_1", "Brats18_TCIA13_623_1")
"""The two low-grade cases of the development set (../shared/data/README.md); the rest are HGG."""
REGIONS = ("WT", "TC", "ET")
ET_THRESHOLDS = (0, 50, 100, 200, 300, 500, 750, 1000)
"""Candidate 'small ET becomes core' thresholds (voxels at 1 mm³); 0 = off."""
COMPONENT_FRACTIONS = (0.0, 0.1)
MAX_FAILURES = 3
ARCHIVE = "tumour-accuracy.units.json.gz"
ARCHIVE_PATTERNS = ("plan.json", "*/fold-*/eval.json", "*/fold-*/train-config.json", "*/fold-*/hd95.json",
                    "*/fold-*/pseudo/pseudo.json", "*/fold-*/diagnostics.json")
"""The small per-unit results kept in docs/results (experiments/study_archive.py); checkpoints stay out."""
RESUME = "tumour-accuracy.resume.json.gz"
RESUME_PATTERNS = tuple(f"{config}/fold-*/{path}" for config in ("2d3d", "std-3d") for path in (
    "train-config.json", "run/config.json", "run/events.jsonl", "run/checkpoint.pt", "run/stages/*/config.json",
    "run/stages/*/events.jsonl", "run/stages/*/checkpoint.pt", "run/stages/*/model/*"))
"""The progress of the thesis networks' units, which train for longer than one sitting (three 2D stages, then
the 3D network): their checkpoints and finished stages' models (small networks), kept between sessions."""
DEFAULT_RECIPE = ROOT / "weakseg" / "models" / "default-tumour" / "train-config.json"


# --- configurations --------------------------------------------------------------------------------

RECIPE_V1 = {
    "augment": True, "loss": "dice_ce", "output": "softmax", "tta": True, "et_min_voxels": 0,
    "min_component_fraction": 0.1,
    "augmentation": {"p_flip": 0.5, "flip_axes": [-1], "p_rotate": 0.3, "rotate_degrees": 15.0, "tilt_degrees": 5.0,
                     "p_scale": 0.3, "scale_range": [0.85, 1.15], "p_elastic": 0.2, "elastic_magnitude": 0.02,
                     "elastic_grid": 5, "p_gamma": 0.3, "gamma_range": [0.7, 1.5], "p_noise": 0.15, "noise_std": 0.1,
                     "p_intensity": 0.3, "intensity_scale": 0.1, "intensity_shift": 0.1}}
"""The recipe as first cross-validated, spelled out so later changes to the code's defaults cannot
change a configuration in the middle of its cross-validation."""


DEFAULT_V1 = {"mode": "multiclass", "branch": True, "base": 16, "depth": 4, "same_padding": True, "branch_conv": 16, "branch_widths": [128, 96, 64, 48, 32], "branch_fc6": 24,
              "k": 4, "m": 2, "n": 4, "fill_weak_with_full": True, "optimizer": "adamw", "lr": 0.002, "weight_decay": 0.0001, "schedule": "cosine", "inplane_downsample": 2}
"""weakseg/models/default-tumour/train-config.json's method options on 2026-12-01 (network, optimiser,
schedule, downsampling), frozen here for the same reason; a test checks they still agree."""


TUMOUR_2D3D_CPU = {"inplane_downsample": 2, "subnet": "conv3", "sub_width": 4, "base": 8, "widths3d": [8, 16, 32],
                   "patch": 70, "tile": 126, "patches_per_batch": 2, "iterations_2d": 2000, "optimizer": "adamw",
                   "lr": 0.001, "schedule": "cosine", "normalisation": "zscore", "recipe": RECIPE_V1}
"""The 2D-3D / standard-3D networks at CPU size (weakseg.methods.tumour_2d3d's cpu preset, recipe pinned)."""


def default_options() -> dict:
    return json.loads(json.dumps(DEFAULT_V1))


@dataclass(frozen=True)
class Variant:
    """How a configuration's predictions are turned into labels for its headline numbers.

    et: a fixed 'small ET → core' threshold, or 'cv' (chosen on the other folds)."""

    tta: bool
    cc: float
    et: int | str

    def key(self, et: int | None = None) -> str:
        return f"tta{int(self.tta)}_cc{self.cc:g}_et{self.et if et is None else et}"


@dataclass(frozen=True)
class Spec:
    """One configuration: how to train it (method + options + iterations) and report it."""

    name: str
    label: str
    method: str
    options: Callable[[], dict]
    iterations: int
    headline: Variant
    description: str
    predictor: str = "slices2d"
    phase: int = 0
    """Units run phase by phase, within a phase fold by fold: ablations (phase 1) wait for the main grid."""
    budget_of: str | None = None
    """Train for the wall-clock seconds this other configuration took on the same fold (equal-budget peers)."""
    train_fields: Callable[["Unit", list[str]], dict] | None = None
    """Extra TrainConfig fields from the unit and its training cases (e.g. which of them are fully
    annotated, ``derive_weak``, a dataset of pseudo-labels); they replace the defaults, ``train_cases`` included."""
    study: str = "accuracy"
    """The study the configuration belongs to (a key of ``STUDIES``); each study reports only its own."""
    model_of: str | None = None
    """Train nothing: score the model this other configuration trained on the same fold with this spec's
    predictor (e.g. the 2D-3D model's 2D networks alone); waits until that model exists."""


CONFIGS: dict[str, Spec] = {s.name: s for s in [
    Spec("recipe-2d", "new recipe, default 2D network", "mixed",
         lambda: {**default_options(), "normalisation": "zscore", "recipe": RECIPE_V1}, 4000,
         Variant(True, 0.1, "cv"),
         "today's 2D U-Net (base 16, branches, 2x in-plane downsampling, AdamW 2e-3 cosine) with the shared recipe: "
         "brain-masked z-score, spatial + intensity augmentation, Dice + CE, softmax outputs; evaluated with "
         "left-right TTA, island removal (10 %) and the small-ET threshold chosen on the training folds"),
    Spec("default-2d", "today's default recipe", "mixed", default_options, 2200, Variant(False, 0.1, 0),
         "weakseg/models/default-tumour/train-config.json unchanged (median normalisation, 30 % flips, class-weighted "
         "CE, 2200 iterations), evaluated as `weakseg segment` runs it (no TTA, island removal 10 %)"),
    Spec("recipe-2d-regions", "new recipe with region outputs", "mixed",
         lambda: {**default_options(), "normalisation": "zscore", "recipe": {**RECIPE_V1, "output": "regions"}}, 4000,
         Variant(True, 0.1, "cv"),
         "recipe-2d with three sigmoid outputs WT ⊃ TC ⊃ ET (BCE + soft Dice per region) instead of softmax classes",
         phase=3),
    Spec("std-3d", "standard 3D U-Net (thesis baseline)", "tumour-3d",
         lambda: {**TUMOUR_2D3D_CPU, "orientations": []}, 6000, Variant(True, 0.1, "cv"),
         "valid 3D U-Net 70³→30³ (8/16/32) on the 4 z-scored MR channels at 2x in-plane downsampling, shared recipe",
         predictor="cascade3d", phase=1),
    Spec("2d3d", "2D-3D (thesis ch. 2, model A)", "tumour-2d3d", lambda: dict(TUMOUR_2D3D_CPU), 3000,
         Variant(True, 0.1, "cv"),
         "2D model 2 (conv3 subnetworks, width 4, U-Net base 8) per orientation (2000 it each), their logits as 12 "
         "extra channels of the valid 3D U-Net (3000 it), in-sample features, shared recipe",
         predictor="cascade3d", phase=1),
    Spec("triplanar-2d", "2D triplanar (the 2D-3D model's 2D networks)", "tumour-2d3d", lambda: dict(TUMOUR_2D3D_CPU),
         0, Variant(True, 0.1, "cv"),
         "no training of its own: the mean of the three 2D networks (axial, coronal, sagittal) of the 2d3d unit of "
         "the same fold, without its 3D network: what the 2D stage alone gives, and what the 3D network adds",
         predictor="triplanar2d", phase=1, model_of="2d3d"),
    Spec("t1c-only", "new recipe, T1c alone", "mixed",
         lambda: {**default_options(), "normalisation": "zscore", "recipe": RECIPE_V1, "sequences": ["t1c"]}, 4000,
         Variant(True, 0.1, "cv"),
         "recipe-2d trained and tested on the post-contrast T1 alone (the missing-sequence table; what "
         "default-tumour-t1c is trained as)", phase=2),
    Spec("flair-t1c", "new recipe, FLAIR + T1c", "mixed",
         lambda: {**default_options(), "normalisation": "zscore", "recipe": RECIPE_V1, "sequences": ["flair", "t1c"]},
         4000, Variant(True, 0.1, "cv"),
         "recipe-2d on FLAIR and post-contrast T1 only (the missing-sequence table)", phase=2),
    Spec("recipe-2d-8k", "new recipe, twice the iterations", "mixed",
         lambda: {**default_options(), "normalisation": "zscore", "recipe": RECIPE_V1}, 8000,
         Variant(True, 0.1, "cv"),
         "recipe-2d trained for 8000 iterations instead of 4000 (the same cosine schedule stretched; its training "
         "loss was still falling at 4000): does the default need more training or a different recipe?", phase=1),
    Spec("recipe-2d-bf16", "new recipe, bfloat16 convolutions", "mixed",
         lambda: {**default_options(), "normalisation": "zscore", "recipe": RECIPE_V1}, 4000,
         Variant(True, 0.1, "cv"),
         "recipe-2d with the training option cpu_bfloat16 (convolutions in bfloat16 on the CPU's AMX units, float32 "
         "weights, optimiser and losses; about 1.6x faster per iteration): does it train as well as float32?",
         phase=3, train_fields=lambda unit, cases: {"cpu_bfloat16": True}),
    Spec("segresnet-peer", "MONAI SegResNet, equal CPU budget", "peer-segresnet", lambda: {}, 0, Variant(True, 0.1, "cv"),
         "the peer (experiments/peer_segresnet.py): MONAI's BraTS bundle SegResNet (init 16, blocks 1-2-2-4) on 96³ "
         "crops of the same z-scored 1 mm arrays, the bundle's augmentation and soft Dice on WT/TC/ET sigmoids, "
         "AdamW 1e-3 cosine, trained for as many CPU seconds (one thread) as recipe-2d took wall-clock seconds on the same fold",
         predictor="segresnet", phase=1, budget_of="recipe-2d"),
]}
"""Run order: phase by phase, fold by fold. 0: today's recipe vs the new one; 1: the thesis networks;
2: missing-sequence subsets; 3: ablations (recipe-2d-8k, in phase 1, asks whether training longer is the
next lever). triplanar-2d scores the 2d3d models' 2D networks alone (phase 1, no training of its own)."""


STUDIES = {"accuracy": "experiments.tumour_cv", "weak-payoff": "experiments.weak_label_payoff"}
"""Study name → the module whose ``CONFIGS`` hold its specs (the child processes find a unit's spec here)."""


def study_configs(study: str) -> dict[str, Spec]:
    if study == "accuracy":
        return CONFIGS
    if study not in STUDIES:
        raise SystemExit(f"error: unknown study '{study}' (known: {', '.join(STUDIES)})")
    import importlib

    return importlib.import_module(STUDIES[study]).CONFIGS


# --- folds -----------------------------------------------------------------------------------------

def list_cases(data: Path = DATA) -> list[str]:
    return sorted(p.name for p in data.iterdir() if p.is_dir() and any(p.glob("*_seg.nii*")))


def make_folds(cases: list[str], lgg: tuple[str, ...] = LGG, folds: int = FOLDS, seed: int = SEED) -> list[list[str]]:
    """Held-out cases of each fold: per stratum (HGG, then LGG) a seeded permutation dealt round-robin,
    continuing the count across strata so fold sizes differ by at most one."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out: list[list[str]] = [[] for _ in range(folds)]
    dealt = 0
    for stratum in ([c for c in cases if c not in lgg], [c for c in cases if c in lgg]):
        for i in rng.permutation(len(stratum)):
            out[dealt % folds].append(stratum[i])
            dealt += 1
    return [sorted(f) for f in out]


# --- units ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    spec: Spec
    fold: int
    root: Path

    @property
    def folder(self) -> Path:
        return self.root / self.spec.name / f"fold-{self.fold}"

    @property
    def run_dir(self) -> Path:
        if self.spec.model_of:
            return self.root / self.spec.model_of / f"fold-{self.fold}" / "run"
        return self.folder / "run"

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    @property
    def eval_file(self) -> Path:
        return self.folder / "eval.json"

    @property
    def failures_file(self) -> Path:
        return self.folder / "failures.jsonl"

    def failures(self) -> int:
        return len(self.failures_file.read_text().splitlines()) if self.failures_file.is_file() else 0

    def done(self) -> bool:
        return self.eval_file.is_file()

    def trained(self) -> bool:
        return (self.model_dir / "card.json").is_file()


def plan(root: Path, data: Path = DATA, n_folds: int = FOLDS, iterations: int | None = None) -> dict:
    """The folds (written once to plan.json; a later run with a different split is refused).

    ``iterations`` overrides every configuration's budget (smoke tests only; saved in the plan)."""
    cases = list_cases(data)
    folds = make_folds(cases, folds=n_folds)
    record = {"seed": SEED, "folds": folds, "lgg": list(LGG), "data": str(data), "cases": cases,
              "iterations_override": iterations}
    path = root / "plan.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved["folds"] != folds or saved.get("iterations_override") != iterations:
            raise SystemExit(f"error: {path}: saved folds or budget differ from this run's; use another --out")
    else:
        root.mkdir(parents=True, exist_ok=True)
        write_json(path, record)
    return record


def units(root: Path, names: list[str] | None = None, folds: list[int] | None = None, n_folds: int = FOLDS,
          configs: dict[str, Spec] | None = None) -> list[Unit]:
    configs = CONFIGS if configs is None else configs
    names = names or list(configs)
    for name in names:
        if name not in configs:
            raise SystemExit(f"error: unknown configuration '{name}' (known: {', '.join(configs)})")
    order = sorted({configs[n].phase for n in names})
    return [Unit(configs[n], k, root) for phase in order for k in (folds if folds is not None else range(n_folds))
            for n in names if configs[n].phase == phase]


def write_json(path: Path, data) -> None:
    from weakseg.io.atomic import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=1, default=list) + "\n")


def budget_seconds(reference: Unit, results: Path = RESULTS) -> float | None:
    """Training seconds of a finished unit (an equal-budget peer's budget): from its ``eval.json``, else from the
    committed report when that configuration's results are carried there (tumour_cv_report.carry_committed)."""
    if reference.done():
        return json.loads(reference.eval_file.read_text())["train_seconds"]
    report = results / "tumour-accuracy.json"
    if reference.spec.study != "accuracy" or not report.is_file():
        return None
    committed, state_plan = json.loads(report.read_text()), reference.root / "plan.json"
    if not state_plan.is_file() or committed.get("plan", {}).get("folds") != json.loads(state_plan.read_text())["folds"]:
        return None  # another split (e.g. a test's data set): the committed times are not this fold's
    entry = committed["configs"].get(reference.spec.name, {})
    if any((reference.root / reference.spec.name).glob("fold-*/eval.json")):
        return None  # the configuration is being retrained: its carried numbers no longer stand
    minutes = entry.get("train_minutes", {}).get(str(reference.fold))
    return minutes * 60 if minutes else None


def train_config(unit: Unit, folds: list[list[str]], data: Path, cache: Path, iterations: int | None = None) -> dict:
    test = folds[unit.fold]
    options = unit.spec.options()
    if unit.spec.budget_of:
        reference = Unit(study_configs(unit.spec.study)[unit.spec.budget_of], unit.fold, unit.root)
        if budget_seconds(reference) is None:
            raise RuntimeError(f"{unit.spec.name} fold {unit.fold} trains for {unit.spec.budget_of}'s time: "
                               "that unit is not done yet")
        options["budget_seconds"] = budget_seconds(reference)
        if iterations:  # smoke tests: one second per iteration asked, a small network
            options.update(budget_seconds=float(iterations), patch=32, init_filters=8)
    if iterations and "iterations_2d" in options:  # smoke tests: the 2D stages' budget is overridden too
        options["iterations_2d"] = iterations
    train_cases = [c for f in folds for c in f if c not in test]
    config = {"method": unit.spec.method, "dataset": str(data), "out": str(unit.run_dir),
              "iterations": iterations or unit.spec.iterations, "seed": SEED,
              "train_cases": train_cases, "validation_cases": [],
              "checkpoint_every": 100, "validate_every": 0, "log_every": 20, "device": "cpu", "threads": 1,
              "cache_dir": str(cache), "model_id": f"cv-{unit.spec.name}-fold{unit.fold}", "progress_bar": False,
              "description": f"5-fold CV unit: {unit.spec.label}, fold {unit.fold} (test: {', '.join(test)})",
              "method_options": options}
    if unit.spec.train_fields:
        config.update(unit.spec.train_fields(unit, list(train_cases)))
    return config


def child_env(code: Path) -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(code) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def snapshot_code(root: Path) -> tuple[Path, str]:
    """The committed code (git HEAD) unpacked under ``root/code/<rev>``: the units run from this copy,
    so edits in the shared working tree during a long run cannot change or break it."""
    rev = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    target = root / "code" / rev
    if not (target / "experiments" / "tumour_cv.py").is_file():
        tmp = root / "code" / f".{rev}.{os.getpid()}"
        tmp.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", rev, "weakseg", "experiments"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        os.replace(tmp, target)
    return target, rev


def run_unit(unit: Unit, folds: list[list[str]], data: Path, cache: Path, log, iterations: int | None = None,
             code: Path = ROOT) -> bool:
    """Train (resuming) and evaluate one unit in child processes; False when a step failed."""
    if not unit.trained() and not unit.spec.model_of and not train_model(unit, folds, data, cache, log, iterations, code):
        return False
    study = [] if unit.spec.study == "accuracy" else ["--study", unit.spec.study]
    return run_step(unit, "evaluate", [sys.executable, str(code / "experiments" / "tumour_cv.py"), "evaluate-unit",
                                       "--out", str(unit.root), "--config", unit.spec.name, "--fold", str(unit.fold),
                                       "--data", str(data), *study], code, log)


def train_model(unit: Unit, folds: list[list[str]], data: Path, cache: Path, log, iterations: int | None = None,
                code: Path = ROOT) -> bool:
    """The unit's train step alone (resuming): also how a finished unit whose model was lost with its machine
    (only its results are archived) gets a model again when another unit needs it (a self-training teacher)."""
    unit.folder.mkdir(parents=True, exist_ok=True)
    config_file = unit.folder / "train-config.json"
    write_json(config_file, train_config(unit, folds, data, cache, iterations))
    return run_step(unit, "train", [sys.executable, str(code / "experiments" / "tumour_cv.py"), "train-unit",
                                    str(config_file)], code, log)


def run_step(unit: Unit, step: str, command: list[str], code: Path, log) -> bool:
    """One step of a unit in a child process (its output in ``<step>.log``); a failure is recorded, False returned."""
    started = time.time()
    log(f"{unit.spec.name} fold {unit.fold}: {step} started")
    with open(unit.folder / f"{step}.log", "a") as handle:
        status = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, env=child_env(code), cwd=code)
    log(f"{unit.spec.name} fold {unit.fold}: {step} exit {status} after {time.time() - started:.0f} s")
    if status != 0:
        with open(unit.failures_file, "a") as handle:
            handle.write(json.dumps({"step": step, "exit": status, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
    return status == 0


def unit_lock(unit: Unit):
    """An exclusive, non-blocking lock on one unit (None when another runner holds it): several runners
    (e.g. one per CPU core, each with its own --configs) share one state folder without doing a unit twice."""
    unit.folder.mkdir(parents=True, exist_ok=True)
    handle = open(unit.folder / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def cmd_run(args) -> int:
    return run_queue(args, CONFIGS)


def run_queue(args, configs: dict[str, Spec], prepare: Callable | None = None, finish: Callable | None = None,
              archive: str = ARCHIVE, resume: str | None = RESUME) -> int:
    """Every pending unit of ``configs`` in order, resuming; ``prepare(unit, record, log, code)`` (a study's
    own step, run under the unit's lock) may do work first and returns False to leave the unit for later;
    ``finish(unit, record, log, code)`` runs for every done unit (a study's extra scoring; it skips what it has).

    Finished units archived in ``--results``/``archive`` for the same split come back first (a new machine)."""
    root = Path(args.out)
    from experiments.study_archive import restore_or_exit

    folds = make_folds(list_cases(Path(args.data)), folds=args.n_folds)
    restore_or_exit(Path(args.results) / archive, root, folds)
    if resume:
        restore_or_exit(Path(args.results) / resume, root, folds, progress=True)
    record = plan(root, Path(args.data), args.n_folds, args.iterations)

    def log(message: str) -> None:
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {message}"
        print(line, flush=True)
        with open(root / "runner.log", "a") as handle:
            handle.write(line + "\n")

    code, rev = snapshot_code(root) if not args.working_tree else (ROOT, "working tree")
    log(f"runner pid {os.getpid()} started; configs {args.configs or list(configs)}; code {rev} ({code})")
    for unit in units(root, args.configs, args.folds, len(record["folds"]), configs):
        if unit.done():
            if finish is not None:
                finish(unit, record, log, code)
            continue
        if unit.failures() >= MAX_FAILURES:
            log(f"{unit.spec.name} fold {unit.fold}: skipped after {unit.failures()} failures (see its logs)")
            continue
        if unit.spec.budget_of and budget_seconds(Unit(configs[unit.spec.budget_of], unit.fold, root)) is None:
            log(f"{unit.spec.name} fold {unit.fold}: skipped until {unit.spec.budget_of} fold {unit.fold} is done "
                "(it sets this unit's time budget)")
            continue
        if unit.spec.model_of and not unit.trained():
            log(f"{unit.spec.name} fold {unit.fold}: skipped until {unit.spec.model_of} fold {unit.fold} is trained "
                "(this unit scores its model)")
            continue
        lock = unit_lock(unit)
        if lock is None:
            log(f"{unit.spec.name} fold {unit.fold}: skipped, another runner is on it")
            continue
        with lock:
            if prepare is not None and not prepare(unit, record, log, code):
                if finish is not None and unit.done():  # the study's step finished it (e.g. adopted a twin's result)
                    finish(unit, record, log, code)
                continue
            run_unit(unit, record["folds"], Path(args.data), Path(args.cache), log, record.get("iterations_override"), code)
            if finish is not None and unit.done():
                finish(unit, record, log, code)
    log("runner finished the queue")
    return 0


def cmd_train_unit(args) -> int:
    """Child process: train one unit from its config, resuming from its checkpoint when there is one."""
    import torch

    from weakseg.training import TrainConfig, train

    torch.set_num_threads(1)
    if json.loads(Path(args.config).read_text())["method"] == "peer-segresnet":
        from experiments.peer_segresnet import train_unit

        train_unit(json.loads(Path(args.config).read_text()))
        return 0
    config = TrainConfig.read(args.config)
    from dataclasses import replace

    out = Path(config.out)
    # a staged method (2D-3D) interrupted in a 2D stage has stage folders but no top-level checkpoint yet
    train(replace(config, resume=(out / "checkpoint.pt").is_file() or (out / "stages").is_dir()))
    return 0


# --- evaluation -------------------------------------------------------------------------------------

def predict_slices2d(model_dir: Path, folder: Path, cache: Path):
    """(class-probability volume at the original in-plane resolution, truth classes, regions flag)."""
    import torch

    from weakseg.methods.mixed import MixedConfig
    from weakseg.methods.recipe import predict_stack
    from weakseg.models import load_model
    from weakseg.training.data import load_training_case

    torch.set_num_threads(1)
    model = load_model(model_dir)
    method_config = MixedConfig.from_dict(model.card.training["method_config"])
    case = load_training_case(folder, method_config.data_config(), keep_full=True, cache_dir=cache)
    regions = bool(method_config.recipe and method_config.recipe["output"] == "regions")
    probs = {tta: predict_stack(model.network, case.stack, regions=regions, tta=tta,
                                size=case.classes_full.shape[-2:]) for tta in (False, True)}
    return probs, case.classes_full, regions


def predict_cascade3d(model_dir: Path, folder: Path, cache: Path, triplanar_2d: bool = False):
    """The same triple for the 2D-3D / standard 3D models (their own tiled prediction, TTA included);
    ``triplanar_2d``: the 2D-3D model's three 2D networks averaged, without its 3D network."""
    import torch

    from weakseg.methods.tumour_2d3d.evaluate import case_probabilities

    torch.set_num_threads(1)
    return case_probabilities(model_dir, folder, cache, triplanar_2d=triplanar_2d)


def predict_segresnet(model_dir: Path, folder: Path, cache: Path):
    """The same triple for the MONAI SegResNet peer (whole brain box, left-right TTA)."""
    from experiments.peer_segresnet import predict

    return predict(model_dir, folder, cache)


PREDICTORS = {"slices2d": predict_slices2d, "cascade3d": predict_cascade3d,
              "triplanar2d": functools.partial(predict_cascade3d, triplanar_2d=True), "segresnet": predict_segresnet}


def score_variants(probs: dict, truth, regions: bool) -> dict:
    """Dice per region for every (TTA, island removal, ET threshold) variant."""
    import numpy as np

    from weakseg.inference.engine import drop_small_components
    from weakseg.methods.recipe import decode, small_et_to_core
    from weakseg.metrics import confusion, dice
    from weakseg.training.losses import REGION_CLASSES

    truths = {r: np.isin(truth, REGION_CLASSES[r]) for r in REGIONS}
    out = {}
    for tta, p in probs.items():
        classes = decode(p, regions)
        for cc in COMPONENT_FRACTIONS:
            kept = drop_small_components(classes, cc)
            for et in ET_THRESHOLDS:
                final = small_et_to_core(kept, et)
                key = Variant(tta, cc, et).key()
                out[key] = {r: round(dice(confusion(np.isin(final, REGION_CLASSES[r]), truths[r])), 5) for r in REGIONS}
                out[key]["ET_voxels"] = int(np.count_nonzero(final == 3))
    return out


def cmd_evaluate_unit(args) -> int:
    root = Path(args.out)
    unit = Unit(study_configs(args.study)[args.config], args.fold, root)
    record = json.loads((root / "plan.json").read_text())
    predictor = PREDICTORS[unit.spec.predictor]
    per_case = {}
    started = time.time()
    for case_id in record["folds"][unit.fold]:
        t = time.time()
        probs, truth, regions = predictor(unit.model_dir, Path(args.data) / case_id, Path(args.cache))
        per_case[case_id] = score_variants(probs, truth, regions)
        per_case[case_id]["truth_ET_voxels"] = int((truth == 3).sum())
        print(f"{case_id}: {per_case[case_id][unit.spec.headline.key(0)]} ({time.time() - t:.1f} s)", flush=True)
    card = json.loads((unit.model_dir / "card.json").read_text())
    write_json(unit.eval_file, {"config": unit.spec.name, "fold": unit.fold, "test": record["folds"][unit.fold],
                                "train_seconds": card["training"].get("seconds"), "iterations": card["training"]["iterations"],
                                "eval_seconds": round(time.time() - started, 1), "code": str(ROOT),
                                "per_case": per_case})
    return 0


# --- status -----------------------------------------------------------------------------------------

def unit_progress(unit: Unit) -> dict:
    """State of a unit from its files: pending, training (iteration, s/it, ETA), trained, done, failed."""
    if unit.done():
        result = json.loads(unit.eval_file.read_text())
        return {"state": "done", "train_seconds": result.get("train_seconds")}
    info: dict = {"state": "trained" if unit.trained() else "pending", "failures": unit.failures()}
    logs = [unit.run_dir / "events.jsonl", *sorted((unit.run_dir / "stages").glob("*/events.jsonl"))]
    logs = [p for p in logs if p.is_file()]
    if logs and not unit.trained():  # a staged method (2D-3D): the stage training now is the newest log
        events = max(logs, key=lambda p: p.stat().st_mtime)
        start, last = None, None
        with open(events) as handle:
            for line in handle:
                if '"event": "iteration"' in line:
                    last = line
                elif '"event": "start"' in line:
                    start = line
        if last:
            event = json.loads(last)
            info.update(state="training", iteration=event["iteration"] + 1, seconds_per_iteration=event.get("seconds_per_iteration"),
                        eta_min=round(event.get("eta_seconds", 0) / 60, 1))
            if events.parent.parent.name == "stages":
                info.update(stage=events.parent.name, stage_iterations=json.loads(start)["iterations"] if start else None)
    return info


def cmd_status(args) -> int:
    return show_status(args, CONFIGS)


def show_status(args, configs: dict[str, Spec]) -> int:
    root = Path(args.out)
    if not (root / "plan.json").is_file():
        print(f"no cross-validation in {root} yet (start it with `run`)")
        return 0
    record = json.loads((root / "plan.json").read_text())
    for unit in units(root, args.configs, n_folds=len(record["folds"]), configs=configs):
        info = unit_progress(unit)
        text = info["state"]
        if info["state"] == "training":
            total = info.get("stage_iterations") or record.get("iterations_override") or unit.spec.iterations
            stage = f" stage {info['stage']}" if info.get("stage") else ""
            text += f"{stage} {info['iteration']}/{total} ({info['seconds_per_iteration']} s/it, ETA {info['eta_min']} min{' for the stage' if stage else ''})"
        if info.get("failures"):
            text += f", {info['failures']} failed attempt(s)"
        if info["state"] == "done" and info.get("train_seconds"):
            text += f" (trained in {info['train_seconds'] / 60:.0f} min)"
        if not unit.done() and unit.folder.is_dir():
            lock = unit_lock(unit)
            if lock is None:
                text += " [a runner is on it]"
            else:
                lock.close()
        print(f"{unit.spec.name:<14} fold {unit.fold}  {text}")
    return 0


def cmd_report(args) -> int:
    from experiments.study_archive import restore_or_exit
    from experiments.tumour_cv_report import write_report

    from experiments.study_archive import save_resume

    restore_or_exit(Path(args.results) / ARCHIVE, Path(args.out))
    kept = save_resume(Path(args.out), Path(args.results) / RESUME, RESUME_PATTERNS)
    if kept:
        print(f"units still training: {kept} progress files kept in {Path(args.results) / RESUME}" if kept > 0 else
              f"units still training: their progress is too large to keep in {Path(args.results) / RESUME}", flush=True)
    write_report(Path(args.out), Path(args.results), {n: s for n, s in CONFIGS.items() if s.study == "accuracy"})
    return 0



def study_parser(doc: str, state: Path, run, status):
    """(parser, subparsers, common options) with a study's ``run`` and ``status`` commands."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", default=str(state), help=f"state folder (default {state})")
    common.add_argument("--data", default=str(DATA))
    common.add_argument("--cache", default=str(CACHE), help="preprocessed-case cache (memory-mapped .npy)")
    p = sub.add_parser("run", parents=[common], help="train and evaluate every pending unit, resuming")
    p.add_argument("--configs", nargs="+")
    p.add_argument("--folds", nargs="+", type=int, help="only these folds")
    p.add_argument("--n-folds", type=int, default=FOLDS, help=argparse.SUPPRESS)
    p.add_argument("--iterations", type=int, help=argparse.SUPPRESS)  # smoke tests: every unit's budget
    p.add_argument("--working-tree", action="store_true", help="run the working tree's code, not a snapshot of HEAD")
    p.add_argument("--results", default=str(RESULTS), help="where the report and its archive of finished units are")
    p.set_defaults(func=run)
    p = sub.add_parser("status", parents=[common])
    p.add_argument("--configs", nargs="+")
    p.set_defaults(func=status)
    return parser, sub, common


def main(argv: list[str] | None = None) -> int:
    parser, sub, common = study_parser(__doc__, STATE, cmd_run, cmd_status)
    p = sub.add_parser("report", parents=[common])
    p.add_argument("--results", default=str(RESULTS))
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("train-unit", help="(internal) train one unit")
    p.add_argument("config")
    p.set_defaults(func=cmd_train_unit)
    p = sub.add_parser("evaluate-unit", parents=[common], help="(internal) evaluate one trained unit")
    p.add_argument("--config", required=True)
    p.add_argument("--fold", type=int, required=True)
    p.add_argument("--study", default="accuracy", choices=sorted(STUDIES))
    p.set_defaults(func=cmd_evaluate_unit)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
