"""EMReDL settings chosen on development seeds only (never the reported ones): one model per seed and config.

Phantom seeds follow ``emredl_report.py`` (train 1000·s + 1…, test 1000·s + 101…); with
s >= 10 no phantom coincides with a reported seed's (s <= 9). For every trained model the
tumour map on the training and held-out phantoms is scored under each τ rule, so the
rule and the stage-B settings are picked here and then run once on the reported seeds.

    OMP_NUM_THREADS=1 python experiments/emredl_dev.py --work /tmp/emredl-dev --seeds 10 11 12 \
        --name base --out /tmp/emredl-dev/base.json [--set key=json ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments import emredl_phantom as ep  # noqa: E402
from experiments import emredl_report as er  # noqa: E402


START = {"base": 16, "depth": 3, "batch_size": 8, "lr": 1e-3, "lam": 1.0, "prior_epochs": 400, "prior_lr": 3e-3,
         "prior_batch": 20000, "prior_patience": 50}
"""Where the search started: the report's settings before issue 16's second pass; ``--set`` changes them."""


def _phantoms(folder: Path, seeds: list[int]) -> list[Path]:
    """The phantom cases of ``seeds`` in ``folder``, written once and reused by every config."""
    if not folder.is_dir():
        for seed in seeds:
            ep.write_phantom_case(folder, seed, *er.SMALL)
    return sorted(p for p in folder.iterdir() if p.is_dir())


def run_seed(work: Path, seed: int, name: str, options: dict, iterations: int, n_train: int, n_test: int) -> dict:
    from weakseg.models.registry import load_model

    root = work / f"seed{seed}"
    train = _phantoms(root / "train", [1000 * seed + k for k in range(1, n_train + 1)])
    test = _phantoms(root / "test", [1000 * seed + 100 + k for k in range(1, n_test + 1)])
    started = time.perf_counter()
    model = load_model(er._train(root / "train", root / name, [p.name for p in train], options, iterations, seed))
    seconds = time.perf_counter() - started
    taus = ep.tau_rules(model, train)
    out = {"train_seconds": round(seconds, 1), "taus": taus, "prior": model.card.training["prior"],
           "last_e_step": (model.card.training["em_history"] or [None])[-1]}
    oracle = ep.tau_rules(model, test)["dice_train"]  # diagnosis only: the best τ on the test set, never a setting
    scored = ep.evaluate_taus(model, test, {**taus, "test_oracle": oracle})
    out.update({rule: scored[rule] for rule in taus})
    out["test_oracle"] = {"tau": oracle, "dice": scored["test_oracle"]["infiltration"]["dice"]}
    print(seed, name, json.dumps({r: round(out[r]["infiltration"]["dice"], 4) for r in taus}),
          "auc", round(out["youden_train"]["infiltration"]["auc"], 4), "prior_auc",
          round(out["youden_train"]["prior_auc"], 4), "oracle", round(out["test_oracle"]["dice"], 4), flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--train", type=int, default=4)
    parser.add_argument("--test", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--set", nargs="*", default=[], help="method option overrides key=<json>")
    args = parser.parse_args(argv)
    if min(args.seeds) < 10:
        parser.error("development seeds must be >= 10 (seeds 0-9 are the reported ones)")
    import torch

    torch.set_num_threads(1)
    options = dict(START)
    for item in args.set:
        key, value = item.split("=", 1)
        options[key] = json.loads(value)
    result = {"name": args.name, "options": options, "iterations": args.iterations, "seeds": {},
              "command": "python " + " ".join(["experiments/emredl_dev.py", *sys.argv[1:]])}
    for s in args.seeds:
        result["seeds"][str(s)] = run_seed(args.work, s, args.name, options, args.iterations, args.train, args.test)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    rules = list(next(iter(result["seeds"].values()))["taus"])
    result["mean_dice"] = {r: round(float(np.mean([v[r]["infiltration"]["dice"] for v in result["seeds"].values()])), 4)
                           for r in rules}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["mean_dice"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
