"""The metrics table: one row per (case, region), summary statistics, CSV/JSON written atomically.

Non-finite values: an HD of inf (region present in only one mask) and a NaN (an undefined
ratio, e.g. sensitivity with empty truth) are kept in the per-case rows — written ``inf``
and ``nan`` in CSV, ``"inf"`` and ``null`` in JSON (strict JSON has neither) — and left
out of mean/median/std, which report how many values they left out (``n_inf``, ``n_nan``).
Std is the sample standard deviation (ddof = 1).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from weakseg.io.atomic import write_text_atomic
from weakseg.metrics.case import METRICS

STATS = ("mean", "median", "std", "n", "n_inf", "n_nan")
"""Summary rows appended to the CSV (its ``case`` column holds the statistic's name)."""


def case_rows(case_id: str, per_region: Mapping[str, Mapping[str, float]]) -> list[dict]:
    """Flatten ``evaluate_case``'s result into table rows."""
    return [{"case": case_id, "region": region, **{m: float(values[m]) for m in METRICS}}
            for region, values in per_region.items()]


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    n = int(finite.size)
    return {
        "mean": float(finite.mean()) if n else math.nan,
        "median": float(np.median(finite)) if n else math.nan,
        "std": float(finite.std(ddof=1)) if n > 1 else math.nan,
        "n": n,
        "n_inf": int(np.isinf(arr).sum()),
        "n_nan": int(np.isnan(arr).sum()),
    }


def summarize(rows: Iterable[Mapping]) -> dict[str, dict[str, dict[str, float]]]:
    """``{region: {metric: {mean, median, std, n, n_inf, n_nan}}}`` over cases, regions in first-seen order."""
    by_region: dict[str, list[Mapping]] = {}
    for row in rows:
        by_region.setdefault(row["region"], []).append(row)
    return {region: {m: _stats([r[m] for r in group]) for m in METRICS} for region, group in by_region.items()}


def _csv_value(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value == math.inf else ("-inf" if value == -math.inf else f"{value:.6g}"))
    return str(value)


def to_csv(rows: list[Mapping], summary: Mapping | None = None) -> str:
    """CSV text: per-case rows, then one row per statistic and region (``case`` = mean, median, ...)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["case", "region", *METRICS])
    for row in rows:
        writer.writerow([row["case"], row["region"], *(_csv_value(row[m]) for m in METRICS)])
    for stat in STATS if summary else ():
        for region, metrics in summary.items():
            writer.writerow([stat, region, *(_csv_value(metrics[m][stat]) for m in METRICS)])
    return buf.getvalue()


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def to_json(rows: list[Mapping], summary: Mapping, meta: Mapping | None = None) -> str:
    doc = {
        **(meta or {}),
        "metrics": list(METRICS),
        "cases": [{k: _json_value(v) for k, v in row.items()} for row in rows],
        "summary": {region: {m: {s: _json_value(v) for s, v in st.items()} for m, st in metrics.items()}
                    for region, metrics in summary.items()},
    }
    return json.dumps(doc, indent=2) + "\n"


def write_tables(rows: list[Mapping], csv_path: str | Path | None = None, json_path: str | Path | None = None,
                 meta: Mapping | None = None) -> dict:
    """Write the CSV and/or JSON atomically; returns the summary."""
    summary = summarize(rows)
    if csv_path:
        write_text_atomic(csv_path, to_csv(rows, summary))
    if json_path:
        write_text_atomic(json_path, to_json(rows, summary, meta))
    return summary


SUMMARY_COLUMNS = (("dice", "Dice", "{:.4f}"), ("hd95_mm", "HD95 mm", "{:.2f}"), ("sensitivity", "Sens", "{:.4f}"),
                   ("precision", "Prec", "{:.4f}"), ("vol_diff_ml", "dVol ml", "{:+.2f}"), ("slice_dice", "SliceDice", "{:.4f}"))


def format_summary(summary: Mapping) -> str:
    """A plain-text table of mean ± std per region; '(k inf)' marks values left out of the mean."""
    head = f"{'region':<10}" + "".join(f" {title:>21}" for _, title, _ in SUMMARY_COLUMNS)
    lines = [head]
    for region, metrics in summary.items():
        cells = []
        for key, _, fmt in SUMMARY_COLUMNS:
            st = metrics[key]
            text = "n/a" if st["n"] == 0 else fmt.format(st["mean"])
            if st["n"] > 1:
                text += " ± " + fmt.format(st["std"]).lstrip("+")
            if st["n_inf"]:
                text += f" ({st['n_inf']} inf)"
            cells.append(f" {text:>21}")
        lines.append(f"{region:<10}" + "".join(cells))
    return "\n".join(lines)
