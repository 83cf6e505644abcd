"""Paper 001 on the 22 BraTS 2018 development cases: a reduced cross-validation.

Compares, per fold, three multiclass 2D U-Nets trained with the same iteration budget:

- ``standard-5fa``: standard supervision, 5 fully annotated (FA) training cases;
- ``mixed-5fa``: the same 5 FA cases + every other training case slice-labelled (per-class slice
  labels derived from the ground truth after one in-plane erosion, by the training engine's
  ``TrainConfig(derive_weak=True, derive_weak_erosion=1)``), paper 001's method;
- ``standard-allfa``: standard supervision, every training case fully annotated (upper bound).

Splits follow the paper's recipe at our scale: one seeded permutation of the cases, fold k
tests on the k-th contiguous chunk, the FA cases are the next 5 cases after the test chunk
(circularly), the rest of the training fold is weakly annotated. Held-out cases are segmented
with ``weakseg.inference.segment_case`` and scored with ``weakseg.metrics.evaluate_case``
(WT/TC/ET Dice and HD95).

    python experiments/mixed_supervision_cv.py run --out scratch/cv [--folds 2] [--iterations N] [--jobs 2]
    python experiments/mixed_supervision_cv.py report --out scratch/cv   # tables and plots into docs/results/
    python experiments/mixed_supervision_cv.py reeval --out scratch/cv --fold 0 --config mixed-5fa --min-component 0.1
    python experiments/mixed_supervision_cv.py report --out scratch/cv --tag cc0.1   # the re-evaluation's tables
    python experiments/mixed_supervision_cv.py run --out scratch/cv-a07 --configs mixed-5fa --set a=0.7  # an ablation
    python experiments/mixed_supervision_cv.py report --out scratch/cv-1000 --name 1000  # files mixed-supervision-1000-*

``--set KEY=VALUE`` (repeatable, VALUE parsed as JSON) overrides one of the recipe's method options
in every job of the run; the overrides are saved in each job's ``train-config.json`` and ``result.json``.

Each (fold, configuration) trains in its own process with one torch thread; at most
``--jobs`` run at once. Finished jobs are skipped on a re-run, so a killed run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "brats18"
CONFIGS = ("mixed-5fa", "standard-5fa", "standard-allfa")
"""Run order: the mixed model (largest batches) first, so two lanes finish together."""
N_FA = 5
REGIONS = ("WT", "TC", "ET")


@dataclass(frozen=True)
class Split:
    """One fold: held-out cases, fully annotated and weakly annotated training cases."""

    fold: int
    test: tuple[str, ...]
    fa: tuple[str, ...]
    wa: tuple[str, ...]

    @property
    def train(self) -> tuple[str, ...]:
        return self.fa + self.wa


def make_splits(cases: list[str], folds: int, seed: int, n_fa: int = N_FA) -> list[Split]:
    """Paper 001's split recipe: seeded permutation, contiguous test chunks, next ``n_fa`` cases FA."""
    import numpy as np

    order = [cases[i] for i in np.random.default_rng(seed).permutation(len(cases))]
    n = len(order)
    bounds = [round(k * n / folds) for k in range(folds + 1)]
    splits = []
    for k in range(folds):
        test = order[bounds[k]:bounds[k + 1]]
        rest = order[bounds[k + 1]:] + order[:bounds[k]]  # circularly after the test chunk
        splits.append(Split(k, tuple(test), tuple(rest[:n_fa]), tuple(rest[n_fa:])))
    return splits


def job_training_sets(split: Split, config: str) -> tuple[list[str], list[str]]:
    """(fully annotated, slice-labelled) training cases of one configuration."""
    if config == "standard-5fa":
        return list(split.fa), []
    if config == "mixed-5fa":
        return list(split.fa), list(split.wa)
    if config == "standard-allfa":
        return list(split.train), []
    raise ValueError(f"unknown configuration {config!r}")


# --- one job: train, then evaluate on the held-out fold ------------------------------------------

@dataclass(frozen=True)
class Budget:
    """What every configuration gets: same iterations, image size and width."""

    iterations: int
    seed: int


RECIPE = Path(ROOT / "weakseg" / "models" / "default-tumour" / "train-config.json")
"""The default model's training recipe: every configuration uses its method options (network width,
branch sizes, optimiser, learning rate, schedule, in-plane downsampling), only fewer iterations."""
WEAK_EROSION = 1
"""Slice labels of weakly annotated cases: present when the class survives one in-plane erosion."""


def recipe_options(branch: bool, overrides: dict | None = None) -> dict:
    """The recipe's method options; ``overrides`` (an ablation's, e.g. ``{"a": 0.7}``) apply last."""
    options = dict(json.loads(RECIPE.read_text())["method_options"])
    options["branch"] = branch
    options.update(overrides or {})
    return options


def parse_overrides(items: list[str] | None) -> dict:
    """``["a=0.7", "k=2"]`` → ``{"a": 0.7, "k": 2}`` (values parsed as JSON, else kept as strings)."""
    overrides = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def train_config(data: Path, fa: list[str], wa: list[str], method: str, budget: Budget, run_dir: Path, cache: Path,
                 overrides: dict | None = None):
    """The engine's ``TrainConfig`` for one job (resumable: a killed job continues from its checkpoint)."""
    from weakseg.training import TrainConfig

    return TrainConfig(
        method="mixed", dataset=str(data), out=str(run_dir), iterations=budget.iterations, seed=budget.seed,
        train_cases=fa + wa, validation_cases=[], full_cases=list(fa), derive_weak=bool(wa),
        derive_weak_erosion=WEAK_EROSION if wa else 0, checkpoint_every=100, log_every=10, device="cpu", amp=False,
        threads=1, cache_dir=str(cache), model_id=f"cv-{run_dir.parent.name}",
        resume=True, progress_bar=False, method_options=recipe_options(branch=method == "mixed", overrides=overrides))


def train_model(data: Path, fa: list[str], wa: list[str], method: str, budget: Budget, workdir: Path,
                cache: Path, overrides: dict | None = None) -> Path:
    """Train with the project's engine (``weakseg.training.train``); returns the model folder."""
    from weakseg.training import train

    config = train_config(data, fa, wa, method, budget, workdir / "run", cache, overrides)
    (workdir / "train-config.json").write_text(config.to_json())
    return train(config)


def evaluate(data: Path, model_dir: Path, cases: list[str], min_component: float | None = None) -> list[dict]:
    """Segment each held-out case with the trained model and score WT/TC/ET.

    ``min_component``: the inference engine's connected-component clean-up (None keeps the
    model card's setting; the CV models' cards have none).
    """
    import torch

    from weakseg.inference import InferenceConfig, segment_case
    from weakseg.io import load_case
    from weakseg.metrics import evaluate_case
    from weakseg.models import load_model

    model = load_model(model_dir, device="cpu")
    rows = []
    for case_id in cases:
        case = load_case(data / case_id)
        started = time.perf_counter()
        extra = {} if min_component is None else {"min_component_fraction": min_component}
        result = segment_case(case, model, InferenceConfig(device="cpu", threads=torch.get_num_threads(), **extra))
        seconds = time.perf_counter() - started
        metrics = evaluate_case(result.labels, case.labels, "brats")
        import numpy as np
        import SimpleITK as sitk

        truth = sitk.GetArrayViewFromImage(case.labels)
        from weakseg import brats

        gt_regions = brats.regions(np.asarray(truth))
        row = {"case": case_id, "seconds": round(seconds, 2)}
        for region in REGIONS:
            row[f"{region}_dice"] = metrics[region]["dice"]
            row[f"{region}_hd95"] = metrics[region]["hd95_mm"]
            row[f"{region}_gt_empty"] = not bool(gt_regions[region].any())
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def run_job(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    splits = make_splits(list_cases(Path(args.data)), args.folds, args.seed)
    split = splits[args.fold]
    fa, wa = job_training_sets(split, args.config)
    workdir = out / f"fold{split.fold}" / args.config
    workdir.mkdir(parents=True, exist_ok=True)
    budget = Budget(args.iterations, args.seed)
    method = "mixed" if args.config.startswith("mixed") else "standard"
    import weakseg

    print(f"weakseg from {Path(weakseg.__file__).parent}", flush=True)
    t0 = time.perf_counter()
    overrides = parse_overrides(args.set)
    model_dir = train_model(Path(args.data), fa, wa, method, budget, workdir, args.cache, overrides)
    train_s = time.perf_counter() - t0
    rows = evaluate(Path(args.data), model_dir, list(split.test))
    result = {"fold": split.fold, "config": args.config, "method": method, "fa": fa, "wa": wa,
              "test": list(split.test), "budget": asdict(budget), "method_overrides": overrides, "train_seconds": round(train_s, 1),
              "eval_seconds": round(time.perf_counter() - t0 - train_s, 1), "cases": rows}
    from weakseg.io.atomic import write_text_atomic

    write_text_atomic(workdir / "result.json", json.dumps(result, indent=2) + "\n")
    return 0


def run_reeval(args: argparse.Namespace) -> int:
    """Re-score one trained job with post-processing; writes ``result-cc<fraction>.json`` beside ``result.json``."""
    import torch

    torch.set_num_threads(1)
    workdir = Path(args.out) / f"fold{args.fold}" / args.config
    base = json.loads((workdir / "result.json").read_text())
    t0 = time.perf_counter()
    rows = evaluate(Path(args.data), workdir / "run" / "model", base["test"], args.min_component)
    result = {**base, "cases": rows, "eval_seconds": round(time.perf_counter() - t0, 1),
              "postprocess": {"min_component_fraction": args.min_component, "code": git_version()}}
    from weakseg.io.atomic import write_text_atomic

    write_text_atomic(workdir / f"result-cc{args.min_component:g}.json", json.dumps(result, indent=2) + "\n")
    return 0


# --- orchestration ---------------------------------------------------------------------------------

def list_cases(data: Path) -> list[str]:
    cases = sorted(p.name for p in data.iterdir() if p.is_dir())
    if not cases:
        raise SystemExit(f"no case folders in {data}")
    return cases


def snapshot_code(out: Path) -> tuple[Path, str]:
    """Copy ``weakseg/`` and ``experiments/`` to ``out/code`` so every job runs the same code even if the
    working tree changes meanwhile; returns the copied script and a SHA-256 over the copied files."""
    import hashlib
    import shutil

    code = out / "code"
    if not code.exists():
        tmp = out / "code.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.safetensors")
        for name in ("weakseg", "experiments"):
            shutil.copytree(ROOT / name, tmp / name, ignore=ignore)
        tmp.rename(code)
    digest = hashlib.sha256()
    for path in sorted(p for p in code.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(code)).encode() + b"\0" + path.read_bytes())
    return code / "experiments" / Path(__file__).name, digest.hexdigest()


def git_version() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "weakseg", "experiments"], cwd=ROOT, capture_output=True,
                               text=True, check=False).stdout.strip()
        return rev + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def job_command(args: argparse.Namespace, fold: int, config: str, script: Path | None = None) -> list[str]:
    return [sys.executable, str(script or Path(__file__).resolve()), "job", "--out", str(args.out), "--data", str(args.data), "--cache", str(args.cache),
            "--folds", str(args.folds), "--seed", str(args.seed), "--iterations", str(args.iterations),
            "--fold", str(fold), "--config", config] + [arg for item in args.set or [] for arg in ("--set", item)]


def run_all(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = make_splits(list_cases(Path(args.data)), args.folds, args.seed)
    (out / "splits.json").write_text(json.dumps([asdict(s) for s in splits], indent=2) + "\n")
    script, digest = snapshot_code(out)
    (out / "command.txt").write_text(" ".join(sys.argv) + "\n")
    (out / "code-version.txt").write_text(f"git {git_version()}\nsnapshot {out / 'code'} sha256 {digest}\n")
    print(f"code snapshot {digest[:16]} in {out / 'code'}", flush=True)
    jobs = [(s.fold, c) for c in args.configs for s in splits]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def launch(job: tuple[int, str]) -> tuple[tuple[int, str], int, float]:
        fold, config = job
        if (out / f"fold{fold}" / config / "result.json").exists():
            return job, 0, 0.0
        log = out / f"fold{fold}-{config}.log"
        started = time.perf_counter()
        with open(log, "w") as handle:
            code = subprocess.call(job_command(args, fold, config, script), stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        elapsed = time.perf_counter() - started
        print(f"{time.strftime('%H:%M:%S')} fold {fold} {config}: exit {code} after {elapsed / 60:.1f} min (log {log})", flush=True)
        return job, code, elapsed

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(launch, jobs))
    failed = [job for job, code, _ in results if code]
    if failed:
        print(f"failed jobs: {failed}", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "job", "report", "reeval"):
        p = sub.add_parser(name)
        p.add_argument("--out", type=Path, default=ROOT / "scratch" / "cv")
        p.add_argument("--data", type=Path, default=DATA)
        p.add_argument("--cache", type=Path, default=None, help="preprocessed-case cache (default OUT/cache)")
        p.add_argument("--folds", type=int, default=2)
        p.add_argument("--seed", type=int, default=2018)
        p.add_argument("--iterations", type=int, default=600)
        if name == "run":
            p.add_argument("--jobs", type=int, default=2)
            p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
        if name in ("run", "job"):
            p.add_argument("--set", action="append", metavar="KEY=VALUE",
                           help="override a recipe method option in every job (VALUE as JSON), e.g. a=0.7")
        if name in ("job", "reeval"):
            p.add_argument("--fold", type=int, required=True)
            p.add_argument("--config", required=True, choices=CONFIGS)
        if name == "reeval":
            p.add_argument("--min-component", type=float, default=0.1,
                           help="drop lesion components smaller than this fraction of the largest")
        if name == "report":
            p.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
            p.add_argument("--tag", default="", help="report re-evaluations result-<tag>.json (e.g. cc0.1)")
            p.add_argument("--ablation", type=Path, action="append", default=[],
                           help="another run's --out folder (a --set ablation) to report beside this one")
            p.add_argument("--name", default="",
                           help="put NAME in the output file names (e.g. 1000 for a second budget): mixed-supervision-NAME-*")
    args = parser.parse_args(argv)
    args.out, args.data = args.out.resolve(), args.data.resolve()
    if getattr(args, "cache", None) is None:
        args.cache = args.out / "cache"
    args.cache = args.cache.resolve()
    if args.command == "run":
        return run_all(args)
    if args.command == "job":
        return run_job(args)
    if args.command == "reeval":
        return run_reeval(args)
    from experiments.mixed_supervision_report import write_report

    return write_report(args.out, args.results, args.tag, [p.resolve() for p in args.ablation], args.name)


if __name__ == "__main__":
    sys.exit(main())
