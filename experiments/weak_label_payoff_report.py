"""Tables, paired tests and the payoff curve of the weak-label study (``weak_label_payoff.py report``).

Reads every finished unit's ``eval.json`` (tumour_cv's format) and writes
docs/results/weak-label-payoff.{md,json,png}. Headline numbers are recipe-2d's headline variant
(left-right TTA, island removal 10 %, the small-ET threshold of fold k chosen on the other folds'
out-of-fold cases of the same arm), scored by tumour_cv_report's functions, so the two studies'
numbers are the same kind. Works on a partial run: a banner says which units are missing, paired
tests use the cases both arms have.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REGIONS = ("WT", "TC", "ET")
KIND_LABELS = {"full": "fully annotated only", "mixed": "n full + slice labels (mixed supervision)",
               "self": "n full + slice labels (self-training)", "scribbles": "n full + scribbles (partial CE)",
               "slices": "slice labels only (gan-seeds, WT)"}
KIND_STYLE = {"full": ("tab:blue", "o"), "mixed": ("tab:orange", "s"), "self": ("tab:green", "^"),
              "scribbles": ("tab:purple", "v"), "slices": ("tab:red", "D")}
WEAK_KINDS = ("mixed", "self", "scribbles")
"""Arms that add cheap labels to n full ones; full-all ends each of their curves."""
GAN_SEEDS = Path(__file__).resolve().parents[2] / "runs" / "gan-seeds"
"""experiments/gan_seeds_cv.py's state: paper 002 trained on every training case slice-labelled, same folds."""
GAIN_GOAL = 0.04
"""Acceptance: at 5 full cases a weak-label arm beats full-5 by at least 4 WT Dice points, paired, p < 0.05."""
RUN = "OMP_NUM_THREADS=1 nohup nice -n 10 python experiments/weak_label_payoff.py run > /work/runs/weak-payoff/runner.out 2>&1 &"
REPORT = "python experiments/weak_label_payoff.py report"


def fold_band(scores: dict[str, dict], region: str) -> dict | None:
    """Mean of the per-fold means and its 95 % t interval over folds, clipped to Dice's [0, 1] (None with < 2 folds)."""
    from scipy.stats import t

    folds = sorted({s["fold"] for s in scores.values()})
    means = np.array([np.mean([s[region] for s in scores.values() if s["fold"] == k]) for k in folds])
    if len(means) < 2:
        return None
    half = float(t.ppf(0.975, len(means) - 1) * means.std(ddof=1) / math.sqrt(len(means)))
    return {"folds": len(means), "mean": float(means.mean()), "low": max(0.0, float(means.mean() - half)),
            "high": min(1.0, float(means.mean() + half)), "fold_means": [round(float(m), 5) for m in means]}


def arm_minutes(arm, plan: dict, folds: list[int], cost) -> float:
    """Mean annotation minutes of ``arm`` over ``folds`` (fold sizes differ by one case)."""
    cases = plan["cases"]
    sizes = [len(cases) - len(plan["folds"][k]) for k in folds or range(len(plan["folds"]))]
    return float(np.mean([cost.minutes(arm.mix(n)) for n in sizes]))


def gan_seeds_arm(state: Path, plan: dict, cost) -> dict | None:
    """The slice-labels-only point: gan-seeds' held-out 3D WT Dice (its final 'combined' stage) per case, from
    experiments/gan_seeds_cv.py's units whose test cases are this study's folds (WT only: it segments WT)."""
    per_case, folds = {}, []
    for k, test in enumerate(plan["folds"]):
        path = state / f"fold{k}" / "eval.json"
        if not path.is_file():
            continue
        rows = json.loads(path.read_text())["cases"]
        if sorted(r["case"] for r in rows) != sorted(test):
            continue  # another split: not comparable
        folds.append(k)
        per_case.update({r["case"]: {"WT": float(r["combined"]["dice_3d"]), "fold": k} for r in rows})
    if not per_case:
        return None
    sizes = [len(plan["cases"]) - len(plan["folds"][k]) for k in folds]
    wt = np.array([v["WT"] for v in per_case.values()])
    return {"kind": "slices", "n_full": 0, "label": "slice labels only (gan-seeds)", "iterations": None,
            "description": "paper 002 (GAN seeds) on every training case slice-labelled (one erosion), "
                           f"experiments/gan_seeds_cv.py, state {state}; WT only", "folds_done": folds,
            "et_threshold_per_fold": {}, "adopted_from": {k: str(state / f"fold{k}" / "eval.json") for k in folds},
            "train_minutes": {}, "minutes": float(np.mean([cost.minutes({"slices": n}) for n in sizes])),
            "mix_per_fold": {k: {"slices": n} for k, n in zip(folds, sizes)},
            "summary": {"cases": len(wt), "WT": {"mean": float(wt.mean()), "std": float(wt.std(ddof=1)) if len(wt) > 1
                                                   else 0.0, "median": float(np.median(wt))}, "TC": None, "ET": None},
            "band": {"WT": fold_band(per_case, "WT"), "TC": None, "ET": None}, "per_case": per_case, "pseudo": {},
            "diagnostics": {}}


def paired_wt(a: dict[str, dict], b: dict[str, dict]) -> dict:
    """tumour_cv_report.paired on WT alone (for an arm that scores no other region)."""
    from experiments.tumour_cv_report import paired

    common = sorted(set(a) & set(b))
    full = paired({c: {r: a[c]["WT"] for r in REGIONS} for c in common}, {c: {r: b[c]["WT"] for r in REGIONS} for c in common})
    return {"cases": full["cases"], "WT": full["WT"], "TC": None, "ET": None}


def collect(root: Path, cost, gan_seeds: Path = GAN_SEEDS, previous: Path | None = None) -> dict:
    """Every arm's entry from the state; with ``previous`` (the committed report), arms it holds more of are
    carried from it (study_archive.carried_entries)."""
    from experiments.tumour_cv import ET_THRESHOLDS
    from experiments.tumour_cv_report import case_scores, load_results, paired, summary
    from experiments.weak_label_payoff import ARM_OF, ARMS, CONFIGS

    plan = json.loads((root / "plan.json").read_text())
    n_folds = len(plan["folds"])
    raw = load_results(root, CONFIGS)
    arms, scores = {}, {}
    for arm in ARMS:
        spec = CONFIGS[arm.name]
        folds = raw.get(arm.name, {})
        h = spec.headline
        s, chosen = case_scores(folds, h.tta, h.cc, h.et, ET_THRESHOLDS) if folds else ({}, {})
        scores[arm.name] = s
        arms[arm.name] = {
            "kind": arm.kind, "n_full": arm.n, "tag": arm.tag, "label": spec.label, "description": spec.description,
            "iterations": spec.iterations, "folds_done": sorted(folds), "et_threshold_per_fold": chosen,
            "adopted_from": {k: d["adopted_from"] for k, d in folds.items() if d.get("adopted_from")},
            "train_minutes": {k: round(d["train_seconds"] / 60, 1) for k, d in folds.items() if d.get("train_seconds")},
            "minutes": arm_minutes(arm, plan, sorted(folds), cost),
            "mix_per_fold": {k: arm.mix(len(plan["cases"]) - len(plan["folds"][k])) for k in range(n_folds)},
            "summary": summary(s), "band": {r: fold_band(s, r) for r in REGIONS} if s else {},
            "per_case": s, "pseudo": pseudo_diagnostics(root, arm.name), "diagnostics": unit_diagnostics(root, arm.name),
            "hd95": arm_hd95(root, arm.name, chosen)}
    slices_only = gan_seeds_arm(gan_seeds, plan, cost)
    if slices_only:
        arms["slices-only"] = slices_only
    if previous is not None:
        from experiments.study_archive import carried_entries, remeasured_folds

        in_state = {name: entry["folds_done"] for name, entry in arms.items()}
        for name, entry in carried_entries(previous, "arms", in_state, plan["folds"]).items():
            if name in arms or name == "slices-only":
                entry["remeasured_folds"] = remeasured_folds(arms[name]["per_case"] if name in arms else {},
                                                             entry["per_case"])
                arms[name] = entry
                if name in ARM_OF:  # annotation minutes under today's cost model
                    entry["minutes"] = arm_minutes(ARM_OF[name], plan, entry["folds_done"], cost)
                scores[name] = entry["per_case"]
        slices_only = arms.get("slices-only")
    if slices_only:
        scores["slices-only"] = slices_only["per_case"]
    comparisons = {}
    for b in ("full-2", "full-5"):
        if slices_only and scores.get(b):
            comparisons[f"slices-only vs {b}"] = paired_wt(slices_only["per_case"], scores[b])
        if scores.get("scribbles-0") and scores.get(b):
            comparisons[f"scribbles-0 vs {b}"] = paired(scores["scribbles-0"], scores[b])
    for arm in (a for a in ARMS if a.tag):  # a diagnostic variant against full-n and against its own arm
        for b in (f"full-{arm.n}", replace(arm, tag="", options=()).name):
            if scores.get(arm.name) and scores.get(b):
                comparisons[f"{arm.name} vs {b}"] = paired(scores[arm.name], scores[b])
    for n in sorted({a.n for a in ARMS if a.n is not None}):
        pairs = [(f"{kind}-{n}", f"full-{n}") for kind in WEAK_KINDS] + [(f"mixed-{n}", f"self-{n}"),
                                                                         (f"mixed-{n}", f"scribbles-{n}")]
        for a, b in pairs:
            if scores.get(a) and scores.get(b):
                comparisons[f"{a} vs {b}"] = paired(scores[a], scores[b])
    headroom = {f"full-all vs full-{n}": paired(scores["full-all"], scores[f"full-{n}"])
                for n in sorted({a.n for a in ARMS if a.n is not None})
                if scores.get("full-all") and scores.get(f"full-{n}")}
    done = sum(len(arms[a.name]["folds_done"]) for a in ARMS)
    return {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "state": str(root),
            "plan": {"seed": plan["seed"], "folds": plan["folds"], "iterations_override": plan.get("iterations_override")},
            "units_done": done, "units_total": n_folds * len(ARMS), "cases_total": len(plan["cases"]),
            "cost_model": cost.to_dict(), "arms": arms, "paired": comparisons, "headroom": headroom,
            "acceptance": acceptance(comparisons, len(plan["cases"]))}


def pseudo_diagnostics(root: Path, name: str) -> dict:
    """Mean WT Dice of a self-training arm's pseudo-labels against the truth, before and after the slice filter."""
    rows = [c for path in sorted((root / name).glob("fold-*/pseudo/pseudo.json"))
            for c in json.loads(path.read_text())["cases"].values()]
    if not rows:
        return {}
    return {"cases": len(rows), "wt_dice_teacher": float(np.mean([r["wt_dice_teacher"] for r in rows])),
            "wt_dice_filtered": float(np.mean([r["wt_dice_filtered"] for r in rows]))}


def arm_hd95(root: Path, name: str, et_per_fold: dict[int, int]) -> dict:
    """Median HD95 (mm) per region over the cases scored by ``hd95``, ET at each fold's chosen threshold;
    ``no_distance``: cases where the region is in only one of prediction and truth (no finite HD95)."""
    values: dict[str, list] = {r: [] for r in REGIONS}
    folds = []
    for path in sorted((root / name).glob("fold-*/hd95.json")):
        data = json.loads(path.read_text())
        if data["fold"] not in et_per_fold:
            continue
        folds.append(data["fold"])
        for case in data["per_case"].values():
            values["WT"].append(case["WT"])
            values["TC"].append(case["TC"])
            values["ET"].append(case["ET"][str(et_per_fold[data["fold"]])])
    if not folds:
        return {}
    out: dict = {"folds": folds, "cases": len(values["WT"])}
    for r, v in values.items():
        finite = [x for x in v if x is not None]
        out[r] = {"median": float(np.median(finite)) if finite else None, "no_distance": len(v) - len(finite)}
    return out


def unit_diagnostics(root: Path, name: str) -> dict:
    """Item 4's diagnostics of an arm (``weak_label_payoff.py diagnose``), averaged over the folds that have them."""
    rows = [json.loads(p.read_text()) for p in sorted((root / name).glob("fold-*/diagnostics.json"))]
    if not rows:
        return {}
    out: dict = {"folds": [r["fold"] for r in rows]}
    aucs = {}
    for r in rows:
        for branch, v in r["branch_auc"].items():
            if v["auc"] == v["auc"]:  # not NaN (a branch whose class is on every held-out slice or none)
                aucs.setdefault(branch, []).append(v["auc"])
    out["branch_auc"] = {b: float(np.mean(v)) for b, v in aucs.items()}
    grads = [r["gradient_share"] for r in rows if r["gradient_share"]]
    if grads:
        out["weak_share"] = float(np.mean([g["weak_share_mean"] for g in grads]))
        out["cosine"] = float(np.mean([g["cosine_mean"] for g in grads]))
    return out


def acceptance(comparisons: dict, n_cases: int) -> dict:
    """The issue's test at 5 full cases: the best weak arm vs full-5 on WT, paired over every held-out case."""
    at_5 = lambda name: name.split("-")[0] in WEAK_KINDS and name.split("-")[1] == "5"  # noqa: E731
    rows = {k: v for k, v in comparisons.items() if k.endswith("vs full-5") and at_5(k.split(" vs ")[0]) and v.get("WT")}
    if not rows:
        return {"status": "not measured yet", "met": None}
    best = max(rows, key=lambda k: rows[k]["WT"]["mean_diff"])
    wt = rows[best]["WT"]
    complete = rows[best]["cases"] == n_cases
    met = wt["mean_diff"] >= GAIN_GOAL and wt["p"] < 0.05
    status = ("met" if met else "not met") if complete else "provisional (not every held-out case yet)"
    return {"status": status, "met": met if complete else None, "best": best.split(" vs ")[0], "cases": rows[best]["cases"],
            "wt_gain": wt["mean_diff"], "p": wt["p"], "goal": GAIN_GOAL}


# --- figure ------------------------------------------------------------------------------------------

def plot(record: dict, path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = record["arms"]
    if not any(a["per_case"] for a in arms.values()):
        return None
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3), sharex=True)
    for ax, region in zip(axes, REGIONS):
        for kind, (colour, marker) in KIND_STYLE.items():
            # a kind's curve; full-all is every kind's right-hand end (no case is left to label cheaply)
            points = sorted((a["minutes"], name) for name, a in arms.items()
                            if a["per_case"] and a["summary"][region] and not a.get("tag")
                            and (a["kind"] == kind or (a["n_full"] is None and kind in WEAK_KINDS)))
            if not points:
                continue
            x = [m for m, _ in points]
            y = [arms[n]["summary"][region]["mean"] for _, n in points]
            ax.plot(x, y, marker=marker, color=colour, label=KIND_LABELS[kind])
            bands = [(m, arms[n]["band"].get(region)) for m, n in points if arms[n]["band"].get(region)]
            if len(bands) >= 2:
                ax.fill_between([m for m, _ in bands], [b["low"] for _, b in bands], [b["high"] for _, b in bands],
                                color=colour, alpha=0.12, lw=0)
            for m, b in bands:  # the band at each point, visible even where a curve has one point
                ax.plot([m, m], [b["low"], b["high"]], color=colour, alpha=0.5, lw=1)
            for m, n in points:
                if arms[n]["kind"] == kind:
                    ax.annotate(n, (m, arms[n]["summary"][region]["mean"]), textcoords="offset points", xytext=(4, -10),
                                fontsize=7, color=colour)
        ax.set_xscale("log")
        ticks = [15, 30, 60, 120, 240, 480, 960]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_ylim(0, 1)
        ax.set_xlabel("annotation minutes per training fold")
        ax.set_title(f"held-out {region} Dice")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean Dice (bars/band: 95 % CI over folds)")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)  # never a half-written figure
    return path


# --- markdown ----------------------------------------------------------------------------------------

def _fmt(s: dict | None) -> str:
    return f"{s['mean']:.3f} ± {s['std']:.3f}" if s else "–"


def _band(b: dict | None) -> str:
    return f"{b['low']:.3f}–{b['high']:.3f}" if b else "–"


def render(record: dict, figure: Path | None) -> str:
    from weakseg.labels.cost import SOURCES

    arms, n_folds = record["arms"], len(record["plan"]["folds"])
    lines = ["# The weak-label payoff: held-out accuracy per annotation minute", ""]
    missing = [f"{n} ({len(a['folds_done'])}/{n_folds})" for n, a in arms.items()
               if len(a["folds_done"]) < n_folds and n != "slices-only"]
    if missing:
        lines += [f"**Partial result.** {record['units_done']} of {record['units_total']} units are done; missing folds: "
                  f"{', '.join(missing)}. Numbers below cover the folds done and change as the runner continues.", ""]
    from experiments.study_archive import carried_banner

    lines += carried_banner({n: a["carried_from"] for n, a in arms.items() if a.get("carried_from")}, "arms",
                            {n: a.get("remeasured_folds", []) for n, a in arms.items()})
    if record["plan"].get("iterations_override"):
        lines += [f"**Smoke run** ({record['plan']['iterations_override']} iterations per unit): not a result.", ""]
    lines += [
        f"Generated {record['generated']} by `{REPORT}` from the state folder `{record['state']}`; the units run with",
        "", f"    {RUN}", "",
        "(resumable; `python experiments/weak_label_payoff.py status` shows each unit). Every number on this page comes",
        "from that report command over those units. Their results are kept beside this page in",
        "`weak-label-payoff.units.json.gz`; `run` and `report` restore them on a new machine.", "",
        "## Protocol", "",
        f"- Cases: the {record['cases_total']} BraTS 2018 development cases, the tumour cross-validation's {n_folds} folds "
        "(`experiments/tumour_cv.py`, seed 2018, stratified by grade), so this study and docs/results/tumour-accuracy.md "
        "share one split. Every held-out case is scored once per arm, by a model that never saw it.",
        "- Every arm trains recipe-2d (the 2D U-Net + the shared recipe: z-score, augmentation, Dice + CE; 4000 "
        "iterations, one CPU thread) on its label mix of the fold's training cases; only the labels differ.",
        "- The n fully annotated cases are the first n of a seeded order of the fold's training cases (the same order "
        "for every n and arm of a fold: full-2 ⊂ full-5 ⊂ full-10).",
        "- Slice labels (mixed, self) are derived from the ground truth: per class and axial slice, present when the "
        "class survives one 3×3 in-plane erosion (the training engine's `derive_weak_erosion=1`).",
        "- Scores: Dice of WT / TC / ET with left-right TTA, island removal (10 %) and the small-ET threshold of fold k "
        "chosen on the other folds of the same arm (never on fold k). Paired tests: Wilcoxon signed-rank over the "
        "held-out cases both arms have.",
        "- Scribbles (scribbles-n) are simulated from the ground truth by the engine's annotator "
        "(`weakseg.labels.derive.scribbles_from_mask`: per class a few foreground and background strokes on a few "
        "axial slices, seeded per case); they train through mixed's partial cross-entropy on the stroked pixels only.",
        "- full-all is the accuracy study's recipe-2d unit (an identical configuration, checked field by field), "
        "adopted rather than trained again. With every case delineated nothing is left to label cheaply, so mixed-all, "
        "self-all and scribbles-all are full-all: it ends every curve.", "",
        "### Annotation cost model (`weakseg.labels.cost`)", "",
        "| label kind | minutes per case | source |", "|---|---|---|"]
    lines += [f"| {k} | {v:g} | {SOURCES[k]} |" for k, v in record["cost_model"].items()]
    lines += ["", "A case's minutes are those of its most complete label (a delineation includes its slice labels).",
              "Change the model with `--cost KIND=MINUTES` on the report command.", "",
              "## Table", "",
              "| arm | label mix | minutes | folds | cases | WT | TC | ET | WT band (95 % CI over folds) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, a in arms.items():
        s = a["summary"]
        lines.append(f"| {name} | {a['label']} | {a['minutes']:.0f} | {len(a['folds_done'])}/{n_folds} | {s['cases']} | "
                     f"{_fmt(s.get('WT'))} | {_fmt(s.get('TC'))} | {_fmt(s.get('ET'))} | {_band(a['band'].get('WT'))} |")
    sizes = sorted({record["cases_total"] - len(f) for f in record["plan"]["folds"]})
    lines += ["", f"Minutes: mean over the folds done of the arm's label mix ({' or '.join(map(str, sizes))} training "
              "cases per fold). Dice: mean ± SD over held-out cases.", ""]
    pseudo = [(n, a["pseudo"]) for n, a in arms.items() if a["pseudo"]]
    if pseudo:
        lines += ["Self-training's pseudo-labels against the truth of the slice-labelled cases (a diagnostic; the "
                  "truth is never used to make them): " + "; ".join(
                      f"{n}: WT Dice {p['wt_dice_teacher']:.3f} from the teacher, {p['wt_dice_filtered']:.3f} after "
                      f"the slice-label filter ({p['cases']} cases)" for n, p in pseudo) + ".", ""]
    if figure:
        lines += [f"![held-out Dice against annotation minutes]({figure.name})", ""]
    lines += ["## Paired tests", "", "| comparison | cases | WT diff (wins/losses, p) | TC diff | ET diff |",
              "|---|---|---|---|---|"]
    for key, p in record["paired"].items():
        cells = [f"{p[r]['mean_diff']:+.3f} ({p[r]['wins']}/{p[r]['losses']}, p={p[r]['p']:.3g})" if p.get(r) else "–"
                 for r in REGIONS]
        lines.append(f"| {key} | {p['cases']} | " + " | ".join(cells) + " |")
    if not record["paired"]:
        lines.append("| (no pair of arms has results yet) | | | | |")
    lines.append("")
    with_hd = [(n, a["hd95"]) for n, a in arms.items() if a.get("hd95")]
    if with_hd:
        lines += ["## HD95", "", "Median over the cases scored (`python experiments/weak_label_payoff.py hd95`), "
                  "headline variant, ET at each fold's chosen threshold; in brackets the cases with no finite distance "
                  "(region in only one of prediction and truth).", "",
                  "| arm | folds | cases | WT HD95 mm | TC HD95 mm | ET HD95 mm |", "|---|---|---|---|---|---|"]
        for name, h in with_hd:
            cells = [f"{h[r]['median']:.1f} ({h[r]['no_distance']})" if h[r]["median"] is not None else
                     f"– ({h[r]['no_distance']})" for r in REGIONS]
            lines.append(f"| {name} | {', '.join(map(str, h['folds']))} | {h['cases']} | " + " | ".join(cells) + " |")
        lines.append("")
    diagnosed = [(n, a["diagnostics"]) for n, a in arms.items() if a["diagnostics"]]
    if diagnosed:
        lines += ["## Diagnostics (issue 14 item 4)", "",
                  "Per arm, over the folds diagnosed (`python experiments/weak_label_payoff.py diagnose --configs ...`): "
                  "ROC AUC of each image-level branch on the held-out slices (slice labels after one erosion); the "
                  "branch term's share (1 − a)·|∇Loss_c| / (a·|∇Loss_s| + (1 − a)·|∇Loss_c|) of the shared layers' "
                  "gradient, and the cosine between the two terms' gradients, on training batches drawn as in training.", "",
                  "| arm | folds | AUC necrosis | AUC edema | AUC enhancing | branch-term share | cosine |",
                  "|---|---|---|---|---|---|---|"]
        for name, d in diagnosed:
            auc = [f"{d['branch_auc'][b]:.3f}" if b in d["branch_auc"] else "–" for b in ("necrosis", "edema", "enhancing")]
            grad = [f"{d[k]:.3f}" if k in d else "–" for k in ("weak_share", "cosine")]
            lines.append(f"| {name} | {', '.join(map(str, d['folds']))} | " + " | ".join(auc + grad) + " |")
        lines.append("")
    acc = record["acceptance"]
    lines += ["## Acceptance: the best weak-label arm at 5 fully annotated cases", ""]
    if acc["met"] is None and "best" not in acc:
        lines.append("Not measured yet: full-5 and a weak-label arm at 5 full cases need common held-out cases.")
    else:
        lines.append(f"Best weak-label arm: **{acc['best']}**, WT {acc['wt_gain']:+.3f} vs full-5 over {acc['cases']} "
                     f"paired held-out cases (Wilcoxon p = {acc['p']:.3g}); the goal is ≥ +{acc['goal']:.2f} with "
                     f"p < 0.05 over all {record['cases_total']}: **{acc['status']}**.")
    lines += headroom_lines(record)
    lines += ["", "## What pays, at which budget", ""] + verdicts(record) + ["", *NOT_MEASURED]
    return "\n".join(lines) + "\n"


def headroom_lines(record: dict) -> list[str]:
    """The ceiling of every weak label at n full cases: delineating *all* the other cases (full-all vs full-n)."""
    rows = record.get("headroom") or {}
    if not rows:
        return []
    lines = ["", "### Headroom: what delineating every other case would add", "",
             "In expectation a cheap label on the remaining cases adds no more than their full delineation. full-all against "
             "full-n, paired over the same held-out cases, is that ceiling:", "",
             "| comparison | cases | WT diff (wins/losses, p) | TC diff | ET diff |", "|---|---|---|---|---|"]
    for key, p in rows.items():
        cells = [f"{p[r]['mean_diff']:+.3f} ({p[r]['wins']}/{p[r]['losses']}, p={p[r]['p']:.3g})" if p.get(r) else "–"
                 for r in ("WT", "TC", "ET")]
        lines.append(f"| {key} | {p['cases']} | " + " | ".join(cells) + " |")
    five = rows.get("full-all vs full-5", {}).get("WT")
    if five:
        verdict = ("below" if five["mean_diff"] < GAIN_GOAL else "at or above")
        lines += ["", f"At 5 full cases the ceiling is {five['mean_diff']:+.3f} WT, {verdict} the +{GAIN_GOAL:.2f} goal."]
    return lines


def verdicts(record: dict) -> list[str]:
    """One plain sentence per budget level n: which label kind scored best, and which weak label did not pay."""
    out = []
    for key, p in record["paired"].items():
        a, b = key.split(" vs ")
        if not b.startswith("full-") or not p.get("WT"):
            continue
        wt = p["WT"]
        extra = record["arms"][a]["minutes"] - record["arms"][b]["minutes"]
        if extra >= 0:
            word = ("pays" if wt["mean_diff"] > 0 and wt["p"] < 0.05 else
                    "does not pay" if wt["mean_diff"] <= 0 else "gains, not significantly")
            cost = f"{extra:.0f} extra annotation minutes"
        else:
            word = ("cheaper and better" if wt["mean_diff"] > 0 and wt["p"] < 0.05 else
                    "cheaper, significantly worse" if wt["mean_diff"] < 0 and wt["p"] < 0.05 else "cheaper, no clear difference")
            cost = f"{-extra:.0f} fewer annotation minutes"
        out.append(f"- {a} vs {b}: {word}: WT {wt['mean_diff']:+.3f} for {cost} "
                   f"({p['cases']} paired cases, p = {wt['p']:.3g}).")
    return out or ["- No weak-label arm has paired results yet."]


NOT_MEASURED = [
    "## Not measured here (yet)", "",
    "- **Slice labels only** is not trained by this driver: the slices-only row (when present) is gan-seeds' own "
    "cross-validation (experiments/gan_seeds_cv.py, the same folds, checked case by case), WT only, scored on the "
    "case grid by its own evaluation rather than tumour_cv's variants.",
    "- **HD95** comes from a second pass over the finished models (`hd95`; tumour_cv's evaluate-unit scores Dice "
    "only); arms without it have not been through that pass yet. Paired tests are on Dice.",
    "- Issue 14 item 4: the branch AUC and gradient-share diagnostics run on finished units (`diagnose`, table above "
    "once run); a run with another batch composition and the shipped `weak-5full` model wait for the full-5 / "
    "mixed-5 / self-5 results.",
]


def write_report(root: Path, out: Path, cost, gan_seeds: Path = GAN_SEEDS) -> Path:
    from weakseg.io.atomic import write_text_atomic

    from experiments import study_archive
    from experiments.tumour_cv import ARCHIVE_PATTERNS
    from experiments.weak_label_payoff import ARCHIVE

    record = collect(root, cost, gan_seeds, out / "weak-label-payoff.json")
    study_archive.save(root, out / ARCHIVE, ARCHIVE_PATTERNS)  # first: a refused report still keeps new units
    study_archive.refuse_to_shrink(out / "weak-label-payoff.json", record, study_archive.folds_done("arms"))
    out.mkdir(parents=True, exist_ok=True)
    figure = plot(record, out / "weak-label-payoff.png")
    write_text_atomic(out / "weak-label-payoff.json", json.dumps(record, indent=1, default=str) + "\n")
    path = out / "weak-label-payoff.md"
    write_text_atomic(path, render(record, figure))
    return path
