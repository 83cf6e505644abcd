"""Region thresholds for a softmax tumour model, chosen by cross-validation (issue 11, recipe item 3).

A softmax model's labels are the argmax of four classes, but BraTS scores three nested regions
(WT = 1 − background, TC = core + enhancing, ET = enhancing), and the threshold of a region's
probability that maximises its Dice need not be where the argmax puts it. This script asks whether
thresholding the region sums (``weakseg.methods.recipe.decode(..., thresholds)``) beats the argmax on
held-out patients, with thresholds that never saw the patients they are scored on:

    python experiments/tumour_cv_thresholds.py score --config recipe-2d   # per finished unit, resumable
    python experiments/tumour_cv_thresholds.py report --config recipe-2d  # docs/results/tumour-region-thresholds.*

``score`` predicts every held-out case of every finished unit of the configuration with its fold's
model (the headline variant's TTA), and writes, per case, the Dice of WT at each WT threshold, of TC
at each (WT, TC) pair and of ET at each (WT, TC, ET) triple on ``GRID``, after the headline's island
removal (``region-thresholds.json`` in the unit's folder). ``report`` then chooses, for test fold k,
the WT threshold maximising mean WT Dice over the *other* folds' cases, then TC given it, then ET given
both (the same nested rule as the small-ET threshold), scores fold k's cases at those thresholds, and
compares them pair by pair with the argmax headline. It also records the thresholds chosen on all
22 out-of-fold predictions (``chosen_on_all_folds``): what a model trained on all cases carries on its
card (``experiments/ship_default_tumour.py --thresholds``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from experiments import tumour_cv as cv  # noqa: E402
from experiments.tumour_cv_report import REGIONS  # noqa: E402

GRID = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
"""The first grid (0.2 ... 0.8) put t_TC at its lower edge on every fold, so it was extended downwards once."""
FILE = "region-thresholds.json"
OUT = ROOT / "docs" / "results" / "tumour-region-thresholds"


def _dice_at(probability: np.ndarray, truth: np.ndarray, within: np.ndarray) -> list[float]:
    """Dice of ``within & (probability > t)`` against ``truth`` for every t of GRID, from two histograms."""
    edges = np.concatenate([[-1.0], np.nextafter(np.array(GRID), 2.0), [2.0]])  # bin i+1 onwards: p > GRID[i]
    p = probability[within]
    above_all = np.cumsum(np.histogram(p, edges)[0][::-1])[::-1]
    above_hit = np.cumsum(np.histogram(p[truth[within]], edges)[0][::-1])[::-1]
    n_truth = int(truth.sum())
    out = []
    for i in range(len(GRID)):
        predicted, hit = int(above_all[i + 1]), int(above_hit[i + 1])
        out.append(1.0 if predicted + n_truth == 0 else 2.0 * hit / (predicted + n_truth))
    return out


def case_table(probs: np.ndarray, truth: np.ndarray, fraction: float) -> dict:
    """WT[i], TC[i][j], ET[i][j][k]: Dice at GRID thresholds (WT, TC, ET), islands removed as the headline does."""
    from weakseg.inference.engine import drop_small_components
    from weakseg.methods.recipe import region_probabilities
    from weakseg.metrics import confusion, dice
    from weakseg.training.losses import REGION_CLASSES

    p_wt, p_tc, p_et = region_probabilities(probs.astype(np.float32))
    truths = {r: np.isin(truth, REGION_CLASSES[r]) for r in REGIONS}
    table = {"WT": [], "TC": [], "ET": []}
    for t_wt in GRID:
        wt = drop_small_components((p_wt > t_wt).astype(np.uint8), fraction) > 0
        table["WT"].append(dice(confusion(wt, truths["WT"])))
        table["TC"].append(_dice_at(p_tc, truths["TC"], wt))
        table["ET"].append([_dice_at(p_et, truths["ET"], wt & (p_tc > t_tc)) for t_tc in GRID])
    return table


def cmd_score(args) -> int:
    import torch

    torch.set_num_threads(1)
    spec = cv.CONFIGS[args.config]
    if spec.predictor != "slices2d":
        raise SystemExit(f"error: {args.config} is not a softmax slice model (predictor {spec.predictor})")
    root = Path(args.out)
    plan = json.loads((root / "plan.json").read_text())
    for unit in cv.units(root, [args.config], n_folds=len(plan["folds"])):
        path = unit.folder / FILE
        if not unit.done() or path.is_file():
            continue
        started, per_case = time.time(), {}
        for case_id in plan["folds"][unit.fold]:
            probs, truth, regions = cv.predict_slices2d(unit.model_dir, Path(args.data) / case_id, Path(args.cache))
            if regions:
                raise SystemExit(f"error: {args.config} has region outputs; its thresholds are already per region")
            per_case[case_id] = case_table(probs[spec.headline.tta], truth, spec.headline.cc)
            print(f"{args.config} fold {unit.fold} {case_id}: WT at 0.5 {per_case[case_id]['WT'][GRID.index(0.5)]:.3f}",
                  flush=True)
        cv.write_json(path, {"config": args.config, "fold": unit.fold, "grid": list(GRID), "tta": spec.headline.tta,
                             "min_component_fraction": spec.headline.cc, "seconds": round(time.time() - started, 1),
                             "per_case": per_case})
    return 0


def choose(tables: list[dict]) -> tuple[int, int, int]:
    """Grid indices (WT, TC, ET) maximising mean Dice over ``tables``, outer region first (ties: closest to 0.5)."""
    middle = GRID.index(0.5)
    best = lambda scores: max(range(len(GRID)), key=lambda i: (round(scores[i], 12), -abs(i - middle)))  # noqa: E731
    i = best(np.mean([t["WT"] for t in tables], 0))
    j = best(np.mean([t["TC"][i] for t in tables], 0))
    k = best(np.mean([t["ET"][i][j] for t in tables], 0))
    return i, j, k


def load_tables(root: Path, config: str) -> dict[int, dict[str, dict]]:
    out = {}
    for path in sorted((root / config).glob(f"fold-*/{FILE}")):
        data = json.loads(path.read_text())
        if data["grid"] != list(GRID):
            raise SystemExit(f"error: {path}: scored on another grid ({data['grid']}); delete it and run `score` again")
        out[data["fold"]] = data["per_case"]
    return out


def nested_scores(folds: dict[int, dict[str, dict]]) -> tuple[dict[str, dict], dict[int, list[float]]]:
    """Per case Dice at the thresholds chosen on the other folds; the thresholds per fold."""
    scores, chosen = {}, {}
    for k, cases in sorted(folds.items()):
        others = [t for f, c in folds.items() if f != k for t in c.values()]
        i, j, e = choose(others) if others else (GRID.index(0.5),) * 3
        chosen[k] = [GRID[i], GRID[j], GRID[e]]
        for case, t in cases.items():
            scores[case] = {"WT": t["WT"][i], "TC": t["TC"][i][j], "ET": t["ET"][i][j][e], "fold": k}
    return scores, chosen


def cmd_report(args) -> int:
    from experiments.tumour_cv import ET_THRESHOLDS
    from experiments.tumour_cv_report import case_scores, load_results, paired, summary
    from weakseg.io.atomic import write_text_atomic

    root = Path(args.out)
    folds = load_tables(root, args.config)
    if not folds:
        raise SystemExit(f"error: no {FILE} under {root / args.config} (run `score` first)")
    spec = cv.CONFIGS[args.config]
    h = spec.headline
    raw = {k: v for k, v in load_results(root, cv.CONFIGS)[args.config].items() if k in folds}
    headline, _ = case_scores(raw, h.tta, h.cc, h.et, ET_THRESHOLDS)
    thresholded, chosen = nested_scores(folds)
    all_cases = [t for c in folds.values() for t in c.values()]
    overall = [GRID[i] for i in choose(all_cases)]
    m = GRID.index(0.5)
    fixed = {c: {"WT": t["WT"][m], "TC": t["TC"][m][m], "ET": t["ET"][m][m][m]} for f in folds.values()
             for c, t in f.items()}
    record = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "config": args.config,
              "folds": sorted(folds), "grid": list(GRID), "chosen_per_fold": chosen, "chosen_on_all_folds": overall,
              "headline": summary(headline), "thresholds_0.5": summary(fixed), "nested": summary(thresholded),
              "paired_nested_vs_headline": paired(thresholded, headline),
              "paired_0.5_vs_headline": paired(fixed, headline), "per_case": thresholded}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(OUT.with_suffix(".json"), json.dumps(record, indent=1) + "\n")
    write_text_atomic(OUT.with_suffix(".md"), render(record, spec))
    print(json.dumps({k: record[k] for k in ("chosen_per_fold", "chosen_on_all_folds")}))
    print(OUT.with_suffix(".md"))
    return 0


def render(record: dict, spec) -> str:
    def row(name, s):
        return f"| {name} | {s['cases']} | " + " | ".join(f"{s[r]['mean']:.3f} ± {s[r]['std']:.3f}" for r in REGIONS) + " |"

    def diff(name, p):
        return f"| {name} | {p['cases']} | " + " | ".join(
            f"{p[r]['mean_diff']:+.3f} ({p[r]['wins']}/{p[r]['losses']}, p={p[r]['p']:.3g})" for r in REGIONS) + " |"

    lines = [
        f"# Region thresholds instead of the argmax: {record['config']}, cross-validated", "",
        f"Generated {record['created']} by `python experiments/tumour_cv_thresholds.py report --config {record['config']}` "
        f"from the folds {', '.join(map(str, record['folds']))} of the tumour cross-validation (docs/results/tumour-accuracy.md: "
        "22 BraTS 2018 cases, 5 folds, seed 2018, HGG/LGG stratified).", "",
        "## Protocol", "",
        f"- Model: each fold's {record['config']} model ({spec.description}).",
        "- Labels: WT = 1 − p(background) > t_WT, TC = p(core) + p(enhancing) > t_TC inside WT, ET = p(enhancing) > t_ET "
        "inside TC (`weakseg.methods.recipe.decode` with thresholds), then the headline's island removal; the headline "
        "takes the argmax of the four classes instead.",
        f"- Thresholds from the grid {', '.join(f'{t:g}' for t in record['grid'])}: for test fold k, t_WT maximises the mean "
        "WT Dice of the other folds' held-out cases, then t_TC the TC Dice given t_WT, then t_ET the ET Dice given both. "
        "Fold k's cases never influence their own thresholds (nested selection).",
        "- Scores: Dice per held-out case, same TTA as the headline; paired Wilcoxon signed-rank tests over the cases.", "",
        "## Results", "",
        "| labels | cases | WT | TC | ET |", "|---|---|---|---|---|",
        row("argmax (the headline of tumour-accuracy.md)", record["headline"]),
        row("all three thresholds at 0.5", record["thresholds_0.5"]),
        row("thresholds chosen on the other folds", record["nested"]), "",
        "| comparison | cases | WT diff (wins/losses, p) | TC diff | ET diff |", "|---|---|---|---|---|",
        diff("chosen thresholds − argmax", record["paired_nested_vs_headline"]),
        diff("0.5 thresholds − argmax", record["paired_0.5_vs_headline"]), "",
        "Thresholds (WT, TC, ET) chosen for each test fold: " + "; ".join(
            f"fold {k}: {', '.join(f'{t:g}' for t in v)}" for k, v in record["chosen_per_fold"].items()) + ".",
        f"Chosen on every fold's held-out cases together (what a model trained on all cases would carry): "
        f"{', '.join(f'{t:g}' for t in record['chosen_on_all_folds'])}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("score", cmd_score), ("report", cmd_report)):
        p = sub.add_parser(name)
        p.add_argument("--config", default="recipe-2d")
        p.add_argument("--out", default=str(cv.STATE))
        p.add_argument("--data", default=str(cv.DATA))
        p.add_argument("--cache", default=str(cv.CACHE))
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
