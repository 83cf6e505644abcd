"""Compare OAR model variants on the development material from their ``oar_results.py`` JSONs.

    python experiments/oar_compare.py 0.2.0=DEV.json spatial=A.json,B.json --out docs/results/oar-candidates

Per variant: (a) the mean final raw Dice over every organ of the development phantom heads (cases named
``phantom_*``), (b) the mean final raw Dice over the labelled organs of the real development heads (MNI152,
Colin27), each real organ, and how many of the eight per-side anatomical rules hold on the skull-on real head. Cases of several files
given for one variant are pooled. Writes OUT.json and OUT.md (a table); prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


SIDE_RULES = tuple(f"{rule.format(side)}" for side in ("L", "R") for rule in (
    "eye_{}_one_component", "lens_{}_inside_eye", "nerve_{}_one_component", "nerve_{}_touches_eye_and_chiasm"))
"""The eight per-side rules of weakseg.oar.checks (the "is left" checks exist only when both sides were found)."""


def final_dice(case: dict) -> dict[str, float]:
    """Raw Dice per organ after the last post-processing step (the atlas baseline row excluded)."""
    steps = [s for s in case["steps"] if "baseline" not in s]
    return {organ: m["dice"] for organ, m in case["steps"][steps[-1]].items() if organ != "OpticNrv+Chiasm"}


def summarise(cases: list[dict]) -> dict:
    phantoms = [final_dice(c) for c in cases if c["case"].startswith("phantom")]
    real = {c["case"].split(" ")[0]: c for c in cases if not c["case"].startswith("phantom")}
    return {
        "dev_phantoms_mean_dice": float(np.mean([v for d in phantoms for v in d.values()])) if phantoms else None,
        "dev_phantoms": len(phantoms),
        "real_mean_dice": float(np.mean([v for c in real.values() for v in final_dice(c).values()])) if real else None,
        "real": {name: final_dice(c) for name, c in real.items()},
        "anatomy_checks_passed": {name: [sum(c["anatomy"].get(k, False) for k in SIDE_RULES), len(SIDE_RULES)]
                                  for name, c in real.items() if c.get("anatomy")},
        "anatomy_failed": {name: [k for k, v in c["anatomy"].items() if not v] for name, c in real.items()
                           if c.get("anatomy")},
    }


def table(rows: dict[str, dict]) -> str:
    organs = sorted({f"{case} {organ}" for r in rows.values() for case, d in r["real"].items() for organ in d})
    head = ["variant", "(a) dev phantoms", "(b) real dev heads", *organs, "per-side rules holding (skull-on head)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in rows.items():
        cells = [name, f"{r['dev_phantoms_mean_dice']:.4f}", f"{r['real_mean_dice']:.4f}"]
        cells += [f"{r['real'].get(o.split(' ')[0], {}).get(o.split(' ')[1], float('nan')):.3f}" for o in organs]
        cells.append(", ".join(f"{a}/{b}" for a, b in r["anatomy_checks_passed"].values()) or "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", metavar="LABEL=JSON[,JSON]")
    parser.add_argument("--out", help="write OUT.json and OUT.md")
    args = parser.parse_args(argv)
    rows = {}
    for item in args.variants:
        label, sep, files = item.partition("=")
        if not sep or not files:
            raise SystemExit(f"error: expected LABEL=JSON[,JSON], got {item!r}")
        paths = [Path(f) for f in files.split(",")]
        for path in paths:
            if not path.is_file():
                raise SystemExit(f"error: {path}: no such results file")
        rows[label] = summarise([c for p in paths for c in json.loads(p.read_text())["cases"]])
        rows[label]["files"] = [p.name for p in paths]
    text = table(rows)
    print(text, end="")
    if args.out:
        from weakseg.io.atomic import write_text_atomic

        write_text_atomic(Path(args.out + ".json"), json.dumps(rows, indent=1) + "\n")
        write_text_atomic(Path(args.out + ".md"), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
