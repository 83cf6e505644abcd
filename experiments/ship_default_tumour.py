"""Install a trained run as the shipped ``default-tumour`` model, with what cross-validation says about it.

The default's configuration is chosen by the 5-fold cross-validation (experiments/tumour_cv.py,
docs/results/tumour-accuracy.md); the model shipped is that configuration retrained on all 22
development cases, so its card carries the cross-validated numbers (out-of-fold, 22 cases) and
says plainly that no held-out number of its own exists. The card keeps the family, the input
expectations and the licence of the model it replaces, is sealed (``card_sha256``) and installed
whole or not at all.

    python experiments/ship_default_tumour.py --run /work/runs/default-tumour-v2/run --config recipe-2d --version 2.1.0 \
        --description "..." --thresholds docs/results/tumour-region-thresholds.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHIPPED = ROOT / "weakseg" / "models" / "default-tumour"
RESULTS = ROOT / "docs" / "results" / "tumour-accuracy.json"
MAX_MB = 20.0
DATASET = ("BraTS 2018 training data: 22 development cases (../shared/data/brats18; 20 HGG, 2 LGG), BraTS-preprocessed "
           "(skull-stripped, 1 mm, SRI24 atlas), labels 1/2/4")
KEPT = ("family", "expects", "licence", "labels", "regions", "branch_labels")
"""Card fields the new default inherits from the one it replaces (same inputs, outputs and terms)."""


def cross_validation_metrics(results: dict, config: str) -> dict:
    entry = results["configs"][config]
    if len(entry["folds_done"]) != len(results["plan"]["folds"]):
        raise SystemExit(f"error: {RESULTS}: configuration '{config}' has folds {entry['folds_done']} only; "
                         "ship after its cross-validation is complete")
    return {"cross_validation": {
        "protocol": f"5-fold CV on the 22 development cases, seed {results['plan']['seed']}, HGG/LGG stratified; "
                    f"each fold's model trained on the other folds only; configuration '{config}'",
        "report": "docs/results/tumour-accuracy.md", "created": results["created"],
        "summary": entry["summary"], "headline_variant": entry["headline_variant"],
        "et_threshold_by_fold": entry["et_threshold_by_fold"]},
        "held_out": None,
        "note": "this model was trained on all 22 development cases: the numbers above are its configuration's "
                "out-of-fold cross-validation, not a test of these weights"}


def with_region_thresholds(card: dict, metrics: dict, path: Path, config: str) -> None:
    """Label by region thresholds (experiments/tumour_cv_thresholds.py) instead of the argmax: the card's
    inference carries the thresholds chosen on all out-of-fold predictions, and its cross-validation
    summary becomes the nested estimate (each fold's thresholds chosen on the other folds)."""
    result = json.loads(path.read_text())
    if result["config"] != config:
        raise SystemExit(f"error: {path}: thresholds of '{result['config']}', not of '{config}'")
    card.setdefault("inference", {})["region_thresholds"] = result["chosen_on_all_folds"]
    cv = metrics["cross_validation"]
    cv.update(argmax_summary=cv["summary"], summary=result["nested"],
              region_thresholds={"report": "docs/results/tumour-region-thresholds.md", "created": result["created"],
                                 "chosen_per_fold": result["chosen_per_fold"],
                                 "chosen_on_all_folds": result["chosen_on_all_folds"],
                                 "paired_vs_argmax": result["paired_nested_vs_headline"]})


def build_card(run_model: Path, old: dict, metrics: dict, version: str, description: str) -> dict:
    card = json.loads((run_model / "card.json").read_text())
    card.update({k: old[k] for k in KEPT if k in old})
    card["training"]["dataset"] = DATASET  # the words a user reads, not a local path
    card.update(id="default-tumour", version=version, metrics=metrics, description=description)
    return card


def install(run_model: Path, card_data: dict) -> Path:
    from weakseg.io.digest import sha256_file
    from weakseg.models.card import ModelCard

    weights = run_model / card_data["weights"]["file"]
    if sha256_file(weights) != card_data["weights"]["sha256"]:
        raise SystemExit(f"error: {weights}: SHA-256 differs from its card")
    size_mb = weights.stat().st_size / 2**20
    if size_mb > MAX_MB:
        raise SystemExit(f"error: {weights}: {size_mb:.1f} MB, more than the {MAX_MB:.0f} MB a shipped model may take")
    tmp = SHIPPED.with_name(".default-tumour.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    shutil.copy2(weights, tmp / weights.name)
    card = ModelCard.from_dict(card_data).sealed()
    (tmp / "card.json").write_text(card.to_json())
    for extra in ("curves.png",):
        if (run_model.parent / extra).is_file():
            shutil.copy2(run_model.parent / extra, tmp / extra)
    config = run_model.parent / "config.json"
    if config.is_file():
        shutil.copy2(config, tmp / "train-config.json")
    old = SHIPPED.with_name(".default-tumour.old")
    shutil.rmtree(old, ignore_errors=True)
    if SHIPPED.exists():
        os.replace(SHIPPED, old)
    os.replace(tmp, SHIPPED)
    shutil.rmtree(old, ignore_errors=True)
    return SHIPPED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="training run folder (holds model/)")
    parser.add_argument("--config", default="recipe-2d", help="the CV configuration the run retrains")
    parser.add_argument("--version", required=True)
    parser.add_argument("--description", required=True)
    parser.add_argument("--thresholds", type=Path, help="docs/results/tumour-region-thresholds.json: label by the "
                        "region thresholds it chose instead of the argmax")
    args = parser.parse_args(argv)
    run_model = args.run / "model"
    if not (run_model / "card.json").is_file():
        raise SystemExit(f"error: {run_model}: no trained model (card.json) yet")
    old = json.loads((SHIPPED / "card.json").read_text())
    metrics = cross_validation_metrics(json.loads(RESULTS.read_text()), args.config)
    card = build_card(run_model, old, metrics, args.version, args.description)
    if args.thresholds:
        with_region_thresholds(card, metrics, args.thresholds, args.config)
    path = install(run_model, card)
    from weakseg.models import load_model

    model = load_model("default-tumour")
    print(f"installed {path} ({model.card.version_label}, family {model.card.family})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
