"""Tables and plots of the paper-001 cross-validation (``mixed_supervision_cv.py``).

Reads ``<out>/fold*/<config>/result.json`` (and, with ``ablations``, those of ablation runs, which
become extra configurations named after their method-option overrides, e.g. ``mixed-5fa-a0.7``);
writes ``mixed-supervision-results.{json,csv}``
and PNG plots into ``docs/results/``. The prose report (``docs/results/mixed-supervision.md``)
is written by hand around the generated tables: ``tables_markdown`` prints them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from pathlib import Path

import numpy as np

CONFIGS = ("standard-5fa", "mixed-5fa", "standard-allfa")
LABELS = {"standard-5fa": "Standard, 5 FA", "mixed-5fa": "Mixed, 5 FA + rest slice-labelled",
          "standard-allfa": "Standard, all FA"}
REGIONS = ("WT", "TC", "ET")
# Paper 001, Table 3 (multiclass model, 5-fold CV on 285 BRATS 2018 cases), Dice in %.
PAPER_MULTICLASS = {"standard-5fa": (67.61, 51.12, 58.15), "mixed-5fa": (76.64, 56.30, 58.19),
                    "standard-allfa": (85.67, 78.78, 74.14)}
PAPER_ROWS = {"standard-5fa": "Standard 5 FA", "mixed-5fa": "Mixed 5 FA + 223 WA", "standard-allfa": "Standard 228 FA"}


def variant_name(result: dict) -> str:
    """``config`` for a plain run; ``config-<key><value>...`` for a run with method-option overrides."""
    overrides = result.get("method_overrides") or {}
    return result["config"] + "".join(f"-{k}{v}" for k, v in sorted(overrides.items()))


def load_results(out: Path, tag: str = "") -> list[dict]:
    name = f"result-{tag}.json" if tag else "result.json"
    results = [json.loads(p.read_text()) for p in sorted(out.glob(f"fold*/*/{name}"))]
    for r in results:
        if r.get("method_overrides"):
            r["base_config"], r["config"] = r["config"], variant_name(r)
            r["run_dir"] = str(out)
            extra = r["config"]
            if extra not in CONFIGS:
                register_variant(extra, r["base_config"], r["method_overrides"])
    return results


def register_variant(name: str, base: str, overrides: dict) -> None:
    """Add an ablation configuration to the tables and plots (after its base configuration)."""
    global CONFIGS
    CONFIGS = CONFIGS + (name,)
    LABELS[name] = LABELS[base] + ", " + ", ".join(f"{k} = {v}" for k, v in overrides.items()) + " (ablation)"


def _finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _mean_std(values) -> tuple[float, float, int]:
    vals = _finite(values)
    if not vals:
        return float("nan"), float("nan"), 0
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0, len(vals)


def summarise(results: list[dict]) -> dict:
    """Per configuration and region: Dice (BraTS convention and paper convention), HD95, per-fold means."""
    summary: dict = {}
    for config in CONFIGS:
        runs = [r for r in results if r["config"] == config]
        if not runs:
            continue
        cases = [c for r in runs for c in r["cases"]]
        entry = {"folds": sorted(r["fold"] for r in runs), "n_cases": len(cases),
                 "train_minutes": [round(r["train_seconds"] / 60, 1) for r in sorted(runs, key=lambda r: r["fold"])],
                 "budget": runs[0]["budget"]}
        for region in REGIONS:
            dice_all = [c[f"{region}_dice"] for c in cases]
            dice_nonempty = [c[f"{region}_dice"] for c in cases if not c[f"{region}_gt_empty"]]
            hd = [c[f"{region}_hd95"] for c in cases]
            m, s, n = _mean_std(dice_all)
            mp, sp, npp = _mean_std(dice_nonempty)
            mh, sh, nh = _mean_std(hd)
            per_fold = {}
            for r in runs:
                vals = _finite(c[f"{region}_dice"] for c in r["cases"] if not c[f"{region}_gt_empty"])
                per_fold[r["fold"]] = float(np.mean(vals)) if vals else float("nan")
            entry[region] = {"dice_mean": m, "dice_std": s, "n": n, "dice_nonempty_mean": mp, "dice_nonempty_std": sp,
                             "n_nonempty": npp, "hd95_mean": mh, "hd95_std": sh, "hd95_n_finite": nh,
                             "hd95_n_infinite": len(hd) - nh, "dice_per_fold_nonempty": per_fold}
        summary[config] = entry
    return summary


def paired_wt(results: list[dict], a: str, b: str) -> dict:
    """Per-case WT Dice difference b − a over the same held-out cases (a paired comparison)."""
    by = {(r["config"], c["case"]): c["WT_dice"] for r in results for c in r["cases"]}
    cases = sorted({case for (cfg, case) in by if cfg == a} & {case for (cfg, case) in by if cfg == b})
    diffs = [by[(b, c)] - by[(a, c)] for c in cases]
    if not diffs:
        return {}
    out = {"n": len(diffs), "mean_diff": float(np.mean(diffs)), "wins": int(sum(d > 0 for d in diffs))}
    try:
        from scipy.stats import wilcoxon

        out["wilcoxon_p"] = float(wilcoxon(diffs).pvalue)
    except (ValueError, ImportError):
        pass
    return out


def tables_markdown(summary: dict) -> str:
    lines = ["| configuration | WT Dice | TC Dice | ET Dice | WT HD95 (mm) | TC HD95 (mm) | ET HD95 (mm) |",
             "|---|---|---|---|---|---|---|"]
    for config in CONFIGS:
        if config not in summary:
            continue
        e = summary[config]
        dice = [f"{e[r]['dice_nonempty_mean']:.3f} ± {e[r]['dice_nonempty_std']:.3f}" for r in REGIONS]
        hd = [f"{e[r]['hd95_mean']:.1f} ± {e[r]['hd95_std']:.1f}"
              + (f" ({e[r]['hd95_n_infinite']} ∞)" if e[r]["hd95_n_infinite"] else "") for r in REGIONS]
        lines.append(f"| {LABELS[config]} | " + " | ".join(dice + hd) + " |")
    lines += ["", "Side by side with paper 001 (multiclass, Table 3; Dice, ours over held-out cases with a non-empty region):", "",
              "| configuration | ours WT | paper WT | ours TC | paper TC | ours ET | paper ET |", "|---|---|---|---|---|---|---|"]
    for config in CONFIGS:
        if config not in summary:
            continue
        e = summary[config]
        cells = []
        paper = PAPER_MULTICLASS.get(config)
        for i, r in enumerate(REGIONS):
            cells += [f"{100 * e[r]['dice_nonempty_mean']:.1f}", f"{paper[i]:.2f}" if paper else "–"]
        lines.append(f"| {LABELS[config]} (paper: {PAPER_ROWS.get(config, 'none')}) | " + " | ".join(cells) + " |")
    lines += ["", "Per fold, mean Dice (non-empty region):", "",
              "| configuration | region | " + " | ".join(f"fold {k}" for k in sorted(next(iter(summary.values()))["WT"]["dice_per_fold_nonempty"])) + " |",
              "|---|---|" + "---|" * len(next(iter(summary.values()))["WT"]["dice_per_fold_nonempty"])]
    for config in CONFIGS:
        if config not in summary:
            continue
        for r in REGIONS:
            folds = summary[config][r]["dice_per_fold_nonempty"]
            lines.append(f"| {LABELS[config]} | {r} | " + " | ".join(f"{folds[k]:.3f}" for k in sorted(folds)) + " |")
    lines += ["", "BraTS convention (every held-out case; an empty region predicted empty scores 1, else 0):", "",
              "| configuration | WT Dice | TC Dice | ET Dice |", "|---|---|---|---|"]
    for config in CONFIGS:
        if config in summary:
            e = summary[config]
            lines.append(f"| {LABELS[config]} | " + " | ".join(f"{e[r]['dice_mean']:.3f} ± {e[r]['dice_std']:.3f}" for r in REGIONS) + " |")
    return "\n".join(lines) + "\n"


def rows_csv(results: list[dict]) -> str:
    buf = io.StringIO()
    fields = ["fold", "config", "case"] + [f"{r}_{m}" for r in REGIONS for m in ("dice", "hd95", "gt_empty")]
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for r in sorted(results, key=lambda r: (r["fold"], r["config"])):
        for c in r["cases"]:
            writer.writerow({"fold": r["fold"], "config": r["config"], **{k: c[k] for k in fields[2:]}})
    return buf.getvalue()


def plot_dice(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = [c for c in CONFIGS if c in summary]
    x = np.arange(len(REGIONS))
    width = 0.8 / max(len(configs), 1)
    colours = {"standard-5fa": "#9e9e9e", "mixed-5fa": "#1f77b4", "standard-allfa": "#2ca02c"}
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=120)
    for i, config in enumerate(configs):
        means = [summary[config][r]["dice_nonempty_mean"] for r in REGIONS]
        stds = [summary[config][r]["dice_nonempty_std"] for r in REGIONS]
        pos = x + (i - (len(configs) - 1) / 2) * width
        ax.bar(pos, means, width * 0.9, yerr=stds, capsize=3, color=colours.get(config, "#ff7f0e"), label=f"ours: {LABELS[config]}")
        if config not in PAPER_MULTICLASS:
            continue
        ax.scatter(pos, [v / 100 for v in PAPER_MULTICLASS[config]], marker="D", facecolors="white", edgecolors="red", zorder=3, s=28,
                   label="paper 001 (Table 3)" if i == 0 else None)
    ax.set_xticks(x, REGIONS)
    ax.set_ylabel("Dice (held-out cases, mean ± std)")
    ax.set_ylim(0, 1)
    iterations = {summary[c].get("budget", {}).get("iterations") for c in configs} - {None}
    budget = f", {iterations.pop()} iterations" if len(iterations) == 1 else ""
    ax.set_title(f"Paper 001 reduced CV on 22 BraTS 2018 cases (multiclass 2D U-Net{budget})", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)  # below: bars stay visible
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_paired_wt(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = [c for c in CONFIGS if any(r["config"] == c for r in results)]
    by = {(r["config"], c["case"]): c["WT_dice"] for r in results for c in r["cases"]}
    cases = sorted({case for (_, case) in by})
    fig, ax = plt.subplots(figsize=(1.5 * len(configs) + 1.5, 4.2), dpi=120)
    for case in cases:
        ys = [by.get((c, case), np.nan) for c in configs]
        ax.plot(range(len(configs)), ys, "-o", color="#888888", alpha=0.5, ms=3, lw=0.8)
    for i, c in enumerate(configs):
        vals = [by[(c, case)] for case in cases if (c, case) in by]
        ax.hlines(np.mean(vals), i - 0.2, i + 0.2, color="red", lw=2)
    ax.set_xticks(range(len(configs)), ["\n".join(textwrap.wrap(LABELS[c], 20)) for c in configs], fontsize=7)
    ax.set_ylabel("WT Dice per held-out case")
    ax.set_ylim(0, 1)
    ax.set_title("Whole-tumour Dice, each line one case (red: mean)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_curves(out: Path, path: Path, extra_outs: list[Path] | None = None) -> bool:
    """Segmentation loss per iteration of every job, from the engine's JSON-lines event log.

    The segmentation term is computed the same way in every configuration (class-weighted
    cross-entropy on 4 fully annotated positives + 2 negatives per batch), so the curves are
    comparable; the mixed model's total loss also holds the classification term.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = sorted(out.glob("fold*/*/run/events.jsonl")) + [log for extra in extra_outs or [] for log in sorted(extra.glob("fold*/*/run/events.jsonl"))]
    if not logs:
        return False
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    styles = {"standard-5fa": "#9e9e9e", "mixed-5fa": "#1f77b4", "standard-allfa": "#2ca02c"}
    for log in logs:
        config, fold = log.parent.parent.name, log.parent.parent.parent.name
        result = log.parent.parent / "result.json"
        if result.exists() and json.loads(result.read_text()).get("method_overrides"):
            config = variant_name(json.loads(result.read_text()))
            styles.setdefault(config, "#ff7f0e")
        its, losses = [], []
        for line in log.read_text().splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            loss = event.get("loss_seg", event.get("loss"))
            if event.get("event") == "iteration" and event.get("iteration") is not None and loss is not None:
                its.append(event["iteration"])
                losses.append(loss)
        if its:
            window = 5  # logged points (every 10 iterations): a 50-iteration moving average
            losses = np.convolve(losses, np.ones(window) / window, mode="valid") if len(losses) > window else losses
            its = its[len(its) - len(losses):]
            ax.plot(its, losses, color=styles.get(config, "black"), alpha=0.8, lw=1,
                    ls="-" if fold.endswith("0") else "--", label=f"{LABELS.get(config, config)}, {fold}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("segmentation loss (50-iteration mean)")
    ax.set_yscale("log")
    ax.set_title("Segmentation term of the loss on the k + m masked slices of each batch")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _json_safe(value):
    """Non-finite floats become the strings 'inf' / 'nan' so the file stays standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_report(out: Path, results_dir: Path, tag: str = "", ablations: list[Path] | None = None,
                 name: str = "") -> int:
    """Tables and plots of ``result.json`` (or of ``result-<tag>.json``, a re-evaluation, with ``tag``),
    with the runs under each of ``ablations`` (other ``--out`` folders) as extra configurations.

    ``name`` (e.g. ``1000`` for a longer budget) goes into every output file name, so a second run's
    files sit beside the first run's instead of replacing them.
    """
    from weakseg.io.atomic import write_text_atomic

    results = load_results(out, tag) + [r for extra in ablations or [] for r in load_results(extra, tag)]
    stem = "-".join(["mixed-supervision"] + [part for part in (name, tag) if part])
    if not results:
        print(f"no result.json under {out}")
        return 1
    summary = summarise(results)
    summary["paired_wt_mixed_vs_standard5"] = paired_wt(results, "standard-5fa", "mixed-5fa")
    for config in CONFIGS[3:]:  # ablations: against the baseline and against the configuration they vary
        base = next(r["base_config"] for r in results if r["config"] == config)
        summary[f"paired_wt_{config}_vs_standard-5fa"] = paired_wt(results, "standard-5fa", config)
        summary[f"paired_wt_{config}_vs_{base}"] = paired_wt(results, base, config)
    results_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(results_dir / f"{stem}-results.json",
                      json.dumps(_json_safe({"summary": summary, "runs": results}), indent=2, default=str) + "\n")
    write_text_atomic(results_dir / f"{stem}-cases.csv", rows_csv(results))
    plot_dice({k: v for k, v in summary.items() if k in CONFIGS}, results_dir / f"{stem}-dice.png")
    plot_paired_wt(results, results_dir / f"{stem}-wt-cases.png")
    if not tag:
        plot_curves(out, results_dir / f"{stem}-curves.png", ablations)
    print(tables_markdown({k: v for k, v in summary.items() if k in CONFIGS}))
    for key, value in summary.items():
        if key.startswith("paired_wt_"):
            print(f"{key} (second minus first):", json.dumps(value))
    return 0
