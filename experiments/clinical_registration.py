"""Choose the rigid-registration settings on held-out degradations (not the reported ones).

The clinical-input report scores registration on the 22 BraTS cases degraded with seed = case
index (63 of 66 moved sequences within 1 mm with the first settings, worst 1.36 mm). Choosing
settings on those numbers would tune on the reported cases, so the choice is made here on *other*
motions: every second case (indices 1, 3, …, 21), seed = 2000 + index.

Each candidate registers the moved T1, T1c and T2 onto the thick-slice FLAIR, as the pipeline
does; the error is the mean displacement of the brain under (found ∘ true⁻¹), as in the report.
Rule, fixed before the run: the candidate with the most sequences within 1 mm; ties by the
worst error, then the median time.

    python experiments/clinical_registration.py [--work /work/runs/clinical-registration]

Per-case results are cached in --work (resumable); writes docs/results/clinical-input-registration.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_clinical_input import BRATS, RESULTS, degraded  # noqa: E402

SEED_OFFSET = 2000


def candidates() -> dict:
    from weakseg.clinical.register import RegistrationConfig

    return {
        "first": RegistrationConfig(samples=20000, iterations=100),
        "more-samples": RegistrationConfig(samples=60000, iterations=200),
        "finer-last-level": RegistrationConfig(samples=60000, iterations=200, shrink=(4, 2, 1, 1),
                                               smoothing_mm=(4.0, 2.0, 1.0, 0.0)),
        "more-iterations": RegistrationConfig(samples=40000, iterations=300),
    }


def measure(folder: Path, seed: int, row: dict | None = None) -> dict:
    from weakseg.clinical.register import _foreground_points, mean_displacement, register_rigid

    case, raw, motions, _ = degraded(folder, seed)
    points = _foreground_points(case.images["flair"])
    row = dict(row or {"case": folder.name, "seed": seed})
    native = getattr(raw, "originals", None) or raw.images  # each series on its own grid, as the pipeline reads them
    fixed = native[raw.reference]
    for name, config in candidates().items():
        if name in row:
            continue
        row[name] = {}
        for sequence, motion in motions.items():
            moving = native[sequence]
            started = time.perf_counter()
            reg = register_rigid(fixed, moving, config)
            row[name][sequence] = {"error_mm": round(mean_displacement(reg.transform, points, motion.GetInverse()), 3),
                                   "seconds": round(time.perf_counter() - started, 2)}
    return row


def summarise(rows: list[dict]) -> dict:
    out = {}
    for name in candidates():
        errors = [v["error_mm"] for r in rows for v in r[name].values()]
        seconds = [v["seconds"] for r in rows for v in r[name].values()]
        out[name] = {"within_1mm": sum(e <= 1.0 for e in errors), "sequences": len(errors),
                     "mean_mm": round(statistics.mean(errors), 3), "worst_mm": round(max(errors), 3),
                     "median_s": round(statistics.median(seconds), 2)}
    out["chosen"] = min(candidates(), key=lambda n: (-out[n]["within_1mm"], out[n]["worst_mm"], out[n]["median_s"]))
    return out


def report(rows: list[dict], summary: dict) -> str:
    lines = ["# Rigid registration settings chosen on held-out degradations", "",
             f"Produced by `python experiments/clinical_registration.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
             f"({os.cpu_count()} shared CPU cores). Raw numbers: `clinical-input-registration.json`.", "",
             f"Cases: every second development case ({len(rows)}), degraded with seed 2000 + index (motions the "
             "clinical-input report does not use). Rule fixed beforehand: most sequences within 1 mm, then the "
             "smallest worst error, then the fastest.", "",
             "| candidate | settings | within 1 mm | mean error (mm) | worst (mm) | median time per sequence (s) |",
             "|---|---|---|---|---|---|"]
    for name, config in candidates().items():
        s = summary[name]
        settings = ", ".join(f"{k} {v}" for k, v in asdict(config).items() if k != "seed")
        lines.append(f"| {name} | {settings} | {s['within_1mm']}/{s['sequences']} | {s['mean_mm']:.2f} | "
                     f"{s['worst_mm']:.2f} | {s['median_s']:.1f} |")
    lines += ["", f"Chosen: **{summary['chosen']}** (the pipeline's `RegistrationConfig` defaults).", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT.parent / "runs" / "clinical-registration")
    parser.add_argument("--cases", type=int, default=22)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    folders = sorted(p for p in BRATS.iterdir() if p.is_dir())[: args.cases]
    rows = []
    for index in range(1, len(folders), 2):
        folder = folders[index]
        cached = args.work / f"{folder.name}.json"
        old = json.loads(cached.read_text()) if cached.exists() else None
        row = measure(folder, SEED_OFFSET + index, old)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps(row, indent=1))
        os.replace(tmp, cached)
        print(folder.name, {n: max(v["error_mm"] for v in row[n].values()) for n in candidates()}, flush=True)
        rows.append(row)
    summary = summarise(rows)
    (RESULTS / "clinical-input-registration.json").write_text(json.dumps({"cases": rows, "summary": summary}, indent=1) + "\n")
    (RESULTS / "clinical-input-registration.md").write_text(report(rows, summary))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
