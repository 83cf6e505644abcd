"""The weak-label payoff: held-out accuracy against annotation minutes, per label kind (issue 14).

On the tumour cross-validation's 5 folds of the 22 BraTS 2018 development cases (the same split:
``tumour_cv.make_folds``), every arm trains recipe-2d (today's 2D U-Net + the shared recipe, 4000
iterations, ``tumour_cv.CONFIGS['recipe-2d']``) on a label mix of the fold's training cases:

- ``full-n``: the first n training cases of a seeded order (the same order for every n of a fold,
  so full-2 ⊂ full-5 ⊂ full-10), fully annotated, nothing else;
- ``mixed-n``: the same n fully annotated + every other training case slice-labelled (per-class
  axial slice labels derived from the ground truth after one in-plane erosion, the engine's
  ``derive_weak``), paper 001;
- ``self-n``: self-training: full-n's model segments the slice-labelled cases; its labels of a
  class are kept only on slices where the slice labels say that class is present (removed core
  voxels become edema where edema is present, else background); recipe-2d is retrained on the n
  true + the filtered pseudo-labelled cases;
- ``scribbles-n``: the same n fully annotated (n = 0: none, scribbles only) + every other training case scribbled (the engine's
  simulated annotator, ``derive_weak_kinds = ["scribbles"]``: a few strokes on a few slices per class),
  trained through mixed's partial cross-entropy on the stroked pixels, no slice labels;
- ``full-all``: every training case fully annotated: exactly the accuracy study's recipe-2d unit,
  whose evaluation is adopted (same configuration, checked) rather than trained twice.

Units are tumour_cv units (resumable, one thread, code snapshot, ``evaluate-unit`` scoring every
inference variant); the queue runs the acceptance comparison first (full-5, mixed-5, then self-5
and scribbles-5 on every fold), then n = 2 and 10.

    OMP_NUM_THREADS=1 nohup nice -n 10 python experiments/weak_label_payoff.py run > /work/runs/weak-payoff/runner.out 2>&1 &
    python experiments/weak_label_payoff.py status
    python experiments/weak_label_payoff.py report    # docs/results/weak-label-payoff.{md,json,png}
    python experiments/weak_label_payoff.py diagnose --configs mixed-5 full-5   # item 4: branch AUC, gradient share
    python experiments/weak_label_payoff.py hd95      # HD95 of every finished unit (evaluate-unit scores Dice only)

Annotation minutes come from ``weakseg.labels.cost``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from experiments import tumour_cv as cv  # noqa: E402

STATE = ROOT.parent / "runs" / "weak-payoff"
STUDY = "weak-payoff"
ARCHIVE = "weak-label-payoff.units.json.gz"
"""Its finished units' results in docs/results (experiments/study_archive.py)."""
REFERENCE = "recipe-2d"
"""The accuracy study's configuration every arm trains (its options, iterations and headline variant)."""
ERODE = 1
"""Slice labels of the slice-labelled cases: a class is present on a slice when it survives one in-plane erosion."""
PSEUDO = "pseudo"
"""Folder of a self-training unit holding its dataset of true + filtered pseudo-labelled cases."""


@dataclass(frozen=True)
class Arm:
    """One label mix: ``kind`` full / mixed / self / scribbles with ``n`` fully annotated cases (None = all).

    ``tag`` + ``options``: a diagnostic variant of the arm (recipe-2d's method options changed as
    given); it is reported beside its arm, not drawn on the curves."""

    kind: str
    n: int | None
    tag: str = ""
    options: tuple[tuple[str, object], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.kind}-{'all' if self.n is None else self.n}" + (f"-{self.tag}" if self.tag else "")

    def mix(self, n_train: int) -> dict[str, int]:
        """Cases per label kind (``weakseg.labels.cost`` kinds) of a fold with ``n_train`` training cases."""
        n = n_train if self.n is None else min(self.n, n_train)
        if self.kind == "full":
            return {"full": n}
        return {"full": n, "scribbles" if self.kind == "scribbles" else "slices": n_train - n}

    @property
    def teacher(self) -> str | None:
        """The arm whose model makes this arm's pseudo-labels."""
        return Arm("full", self.n).name if self.kind == "self" else None


def full_order(train_cases: list[str], fold: int) -> list[str]:
    """The fold's training cases in a seeded order; the first n are the fully annotated ones."""
    import numpy as np

    cases = sorted(train_cases)
    return [cases[i] for i in np.random.default_rng([cv.SEED, fold]).permutation(len(cases))]


def pseudo_dataset(unit: cv.Unit) -> Path:
    return unit.folder / PSEUDO


def _train_fields(arm: Arm):
    def fields(unit: cv.Unit, train_cases: list[str]) -> dict:
        if arm.n is None:
            return {}
        full = full_order(train_cases, unit.fold)[:arm.n]
        if arm.kind == "full":
            return {"train_cases": full}
        if arm.kind == "mixed":
            return {"full_cases": full, "derive_weak": True, "derive_weak_erosion": ERODE}
        if arm.kind == "scribbles":
            return {"full_cases": full, "derive_weak": True, "derive_weak_kinds": ["scribbles"]}
        return {"dataset": str(pseudo_dataset(unit))}  # self: every case carries (pseudo-)voxel labels

    return fields


DESCRIPTIONS = {
    "full": "recipe-2d on the first {n} training cases of the fold's seeded order, fully annotated, nothing else",
    "mixed": "recipe-2d, mixed supervision (paper 001): the {n} fully annotated cases of full-{n} + every other "
             "training case slice-labelled (per-class axial slice labels after one in-plane erosion)",
    "self": "self-training: full-{n}'s model segments the slice-labelled cases, its labels kept only on slices whose "
            "slice labels say the class is present; recipe-2d retrained on the {n} true + the pseudo-labelled cases",
    "scribbles": "recipe-2d, the {n} fully annotated cases of full-{n} + every other training case scribbled (the "
                 "engine's simulated annotator: a few foreground/background strokes on a few slices per class), "
                 "trained through mixed's partial cross-entropy on the stroked pixels; no slice labels",
}
SCRIBBLES_ONLY = (("branch", False), ("m", 0), ("n", 0))
"""scribbles-0: with no delineated case there are no known tumour-free slices or slice labels, so only the
scribbled slots train (the strokes' background pixels are the negatives), as in the engine's scribbles-alone test."""
ARMS = [Arm("full", None), Arm("full", 5), Arm("mixed", 5), Arm("self", 5), Arm("scribbles", 5),
        Arm("full", 2), Arm("mixed", 2), Arm("full", 10), Arm("mixed", 10), Arm("self", 2), Arm("self", 10),
        Arm("scribbles", 2), Arm("scribbles", 10), Arm("scribbles", 0, options=SCRIBBLES_ONLY),
        Arm("mixed", 5, "k8", (("k", 8),))]
"""The grid in run order: full-all (adopted), the acceptance comparison at 5 full cases, then n = 2 and 10;
last a diagnostic (issue 14 item 4): mixed-5 drawing as many fully annotated slices per batch (k = 8) as full-5
gets (its 4 slice-labelled slots filled with more full ones), so the weak slices are added, not swapped in."""
PHASES = {"full-all": 0, "full-5": 0, "mixed-5": 0, "self-5": 1, "scribbles-5": 1, "full-2": 2, "mixed-2": 2,
          "full-10": 2, "mixed-10": 2, "self-2": 3, "self-10": 3, "scribbles-2": 3, "scribbles-10": 3, "scribbles-0": 3,
          "mixed-5-k8": 4}


def _spec(arm: Arm) -> cv.Spec:
    ref = cv.CONFIGS[REFERENCE]
    n = "all" if arm.n is None else arm.n
    label = {"full": f"{n} full", "mixed": f"{n} full + slice labels", "self": f"{n} full + self-training",
             "scribbles": f"{n} full + scribbles"}[arm.kind]
    text = (f"recipe-2d on every training case fully annotated (the accuracy study's {REFERENCE} unit)"
            if arm.n is None else DESCRIPTIONS[arm.kind].format(n=n))
    options = ref.options
    if arm.options:
        changes = dict(arm.options)
        label += ", " + ", ".join(f"{k} = {v}" for k, v in changes.items())
        text += "; method options changed: " + ", ".join(f"{k} = {v}" for k, v in changes.items())
        options = lambda: {**ref.options(), **changes}  # noqa: E731
    return replace(ref, name=arm.name, label=label, description=text, phase=PHASES[arm.name], options=options,
                   train_fields=_train_fields(arm), study=STUDY)


ARM_OF = {arm.name: arm for arm in ARMS}
CONFIGS: dict[str, cv.Spec] = {arm.name: _spec(arm) for arm in ARMS}


# --- the study's own steps, run under a unit's lock before tumour_cv trains it -----------------------

_COMPARED = ("method", "dataset", "iterations", "seed", "train_cases", "validation_cases", "full_cases", "derive_weak",
             "derive_weak_erosion", "method_options", "device", "threads")


def adopt(unit: cv.Unit, record: dict, accuracy_root: Path, log) -> bool:
    """Copy the accuracy study's evaluation of the identical unit (full-all = recipe-2d); False when there is none."""
    twin = cv.Unit(cv.CONFIGS[REFERENCE], unit.fold, accuracy_root)
    if not twin.done() or not (accuracy_root / "plan.json").is_file():
        return False
    if json.loads((accuracy_root / "plan.json").read_text())["folds"] != record["folds"]:
        return False
    mine = cv.train_config(unit, record["folds"], Path(record["data"]), cv.CACHE, record.get("iterations_override"))
    theirs = json.loads((twin.folder / "train-config.json").read_text())
    differ = [k for k in _COMPARED if mine.get(k) != theirs.get(k)]
    if differ:
        log(f"{unit.spec.name} fold {unit.fold}: not adopting {twin.folder} (differs in {', '.join(differ)})")
        return False
    result = json.loads(twin.eval_file.read_text())
    result.update(config=unit.spec.name, adopted_from=str(twin.eval_file))
    cv.write_json(unit.eval_file, result)
    log(f"{unit.spec.name} fold {unit.fold}: adopted {twin.eval_file} (identical configuration)")
    return True


def retrain_teacher(teacher: cv.Unit, record: dict, data: Path, cache: Path, log, code: Path) -> bool:
    """A teacher restored from the archive has its scores but not its model (archives keep no weights): train
    it again, same configuration and seed, for its pseudo-labels; its archived scores stand. False: not now."""
    lock = cv.unit_lock(teacher)
    if lock is None:
        return False
    with lock:
        log(f"{teacher.spec.name} fold {teacher.fold}: done, but its model did not survive the machine; "
            "training it again for the pseudo-labels (its archived scores stand)")
        return cv.train_model(teacher, record["folds"], data, cache, log, record.get("iterations_override"), code)


def make_prepare(accuracy_root: Path, data: Path, cache: Path):
    def prepare(unit: cv.Unit, record: dict, log, code: Path) -> bool:
        arm = ARM_OF[unit.spec.name]
        if arm.n is None and adopt(unit, record, accuracy_root, log):
            return False
        if arm.teacher is None or (pseudo_dataset(unit) / "pseudo.json").is_file():
            return True
        teacher = cv.Unit(CONFIGS[arm.teacher], unit.fold, unit.root)
        if teacher.done() and not teacher.trained() and not retrain_teacher(teacher, record, data, cache, log, code):
            return False
        if not teacher.trained():
            log(f"{unit.spec.name} fold {unit.fold}: skipped until {arm.teacher} fold {unit.fold} is trained "
                "(its model makes the pseudo-labels)")
            return False
        return cv.run_step(unit, "pseudo", [sys.executable, str(code / "experiments" / "weak_label_payoff.py"), "pseudo-unit",
                                       "--out", str(unit.root), "--config", unit.spec.name, "--fold", str(unit.fold),
                                       "--data", str(data), "--cache", str(cache)], code, log)

    return prepare


def make_finish(data: Path, cache: Path):
    """After a unit is done: its HD95 (evaluate-unit scores Dice only), once; a failure is logged, not retried."""
    def finish(unit: cv.Unit, record: dict, log, code: Path) -> None:
        failed = unit.failures_file.is_file() and '"step": "hd95"' in unit.failures_file.read_text()
        if (unit.folder / "hd95.json").is_file() or failed:
            return
        cv.run_step(unit, "hd95", [sys.executable, str(code / "experiments" / "weak_label_payoff.py"), "hd95", "--out",
                              str(unit.root), "--data", str(data), "--cache", str(cache), "--configs", unit.spec.name,
                              "--folds", str(unit.fold)], code, log)

    return finish


def cmd_pseudo_unit(args) -> int:
    """Child process: the teacher segments the unit's slice-labelled cases; the filtered labels become a dataset."""
    from experiments.weak_label_payoff_pseudo import build_pseudo_dataset

    root = Path(args.out)
    unit = cv.Unit(CONFIGS[args.config], args.fold, root)
    arm = ARM_OF[args.config]
    record = json.loads((root / "plan.json").read_text())
    test = record["folds"][unit.fold]
    train = [c for f in record["folds"] for c in f if c not in test]
    full = full_order(train, unit.fold)[:arm.n]
    teacher = cv.Unit(CONFIGS[arm.teacher], unit.fold, root)
    build_pseudo_dataset(pseudo_dataset(unit), Path(args.data), teacher.model_dir, full,
                         [c for c in train if c not in full], ERODE)
    return 0


def planned_units(args) -> tuple[dict, list]:
    """The saved plan and the units of ``--configs``/``--folds`` in queue order (the per-unit commands' loop)."""
    root = Path(args.out)
    record = json.loads((root / "plan.json").read_text())
    return record, cv.units(root, args.configs, args.folds, len(record["folds"]), CONFIGS)


def cmd_diagnose(args) -> int:
    """Item 4's diagnostics of finished units (``weak_label_payoff_diagnose``), one unit at a time."""
    import torch

    from experiments.weak_label_payoff_diagnose import diagnose_unit

    torch.set_num_threads(1)
    record, units = planned_units(args)
    for unit in units:
        if not unit.trained():
            print(f"{unit.spec.name} fold {unit.fold}: not trained yet, skipped", flush=True)
            continue
        result = diagnose_unit(unit, record, Path(args.data), Path(args.cache), ERODE, args.batches)
        print(f"{unit.spec.name} fold {unit.fold}: branch AUC {result['branch_auc']}, gradient {result['gradient_share']}",
              flush=True)
    return 0


def cmd_hd95(args) -> int:
    """HD95 of every finished unit that has none yet (``weak_label_payoff_hd95``); adopted units use their twin's model."""
    import torch

    from experiments.weak_label_payoff_hd95 import unit_hd95

    torch.set_num_threads(1)
    record, units = planned_units(args)
    for unit in units:
        if not unit.done() or (unit.folder / "hd95.json").is_file():
            continue
        adopted = json.loads(unit.eval_file.read_text()).get("adopted_from")
        model_dir = Path(adopted).parent / "run" / "model" if adopted else None
        unit_hd95(unit, record["folds"][unit.fold], Path(args.data), Path(args.cache), model_dir)
    return 0


def cmd_run(args) -> int:
    data, cache = Path(args.data), Path(args.cache)
    return cv.run_queue(args, CONFIGS, make_prepare(Path(args.accuracy_state), data, cache), make_finish(data, cache),
                        archive=ARCHIVE, resume=None)


def cmd_status(args) -> int:
    return cv.show_status(args, CONFIGS)


def cmd_report(args) -> int:
    from experiments.weak_label_payoff_report import write_report
    from weakseg.labels.cost import CostModel

    write_report(Path(args.out), Path(args.results), CostModel.from_dict(cost_overrides(args.cost)), Path(args.gan_seeds))
    return 0


def cost_overrides(items: list[str] | None) -> dict:
    """``["full=60", "slices=2"]`` → ``{"full": 60.0, "slices": 2.0}`` (annotation minutes per case)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        try:
            out[key] = float(value)
        except ValueError:
            raise SystemExit(f"error: --cost expects KIND=MINUTES, got {item!r}") from None
        if not sep:
            raise SystemExit(f"error: --cost expects KIND=MINUTES, got {item!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser, sub, common = cv.study_parser(__doc__, STATE, cmd_run, cmd_status)
    sub.choices["run"].add_argument("--accuracy-state", default=str(cv.STATE),
                                    help="the accuracy study's state folder, whose recipe-2d units full-all adopts")
    p = sub.add_parser("report", parents=[common])
    p.add_argument("--results", default=str(cv.RESULTS))
    p.add_argument("--cost", nargs="+", metavar="KIND=MINUTES", help="annotation minutes per case, e.g. slices=2")
    p.add_argument("--gan-seeds", default=str(ROOT.parent / "runs" / "gan-seeds"),
                   help="experiments/gan_seeds_cv.py's state folder: its held-out folds give the slice-labels-only point")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("diagnose", parents=[common], help="branch AUC and gradient share of the weak term per unit")
    p.add_argument("--configs", nargs="+")
    p.add_argument("--folds", nargs="+", type=int)
    p.add_argument("--batches", type=int, default=20, help="training batches the gradient share is averaged over")
    p.set_defaults(func=cmd_diagnose)
    p = sub.add_parser("hd95", parents=[common], help="HD95 of the held-out predictions of every finished unit")
    p.add_argument("--configs", nargs="+")
    p.add_argument("--folds", nargs="+", type=int)
    p.set_defaults(func=cmd_hd95)
    p = sub.add_parser("pseudo-unit", parents=[common], help="(internal) pseudo-labels of one self-training unit")
    p.add_argument("--config", required=True)
    p.add_argument("--fold", type=int, required=True)
    p.set_defaults(func=cmd_pseudo_unit)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
