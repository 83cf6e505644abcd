"""What the next hour of annotation is expected to buy, per label kind, from the measured payoff curve (no Qt).

The curve is docs/results/weak-label-payoff.json (``experiments/weak_label_payoff.py report``): held-out
WT Dice of recipe-2d trained with n fully annotated cases alone (full-n) and with the rest of the
fold slice-labelled (mixed-n, self-n), n = 2, 5, 10, all. For a case list with F fully annotated and
S slice-labelled cases, one more hour gives 60 / minutes-per-case more cases of a kind
(``weakseg.labels.cost``), and the expected gain is read off the curve:

- full: WT at F + k on the full curve (the mixed/self curve when the list has slice labels), minus WT at F;
- slice labels: the measured gain of the weak arm over full-n at n = F, spread linearly over the number
  of slice-labelled cases that arm had, for S → S + k.

Values are interpolated linearly between measured points and never extrapolated: outside the measured
range the answer is "not measured", as it is for label kinds the study could not train (scribbles,
regions). The numbers are averages over the study's patients, not a promise for this list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CURVE_FILE = Path(__file__).resolve().parents[2] / "docs" / "results" / "weak-label-payoff.json"
WEAK_ARMS = ("mixed", "self")


@dataclass(frozen=True)
class Gain:
    """The next hour spent on one label kind: ``cases`` more of them, WT Dice ``gain`` (None: not measured)."""

    kind: str
    cases: float
    gain: float | None
    note: str = ""


@dataclass(frozen=True)
class Curve:
    """WT Dice per arm kind and n fully annotated cases; ``weak_cases[kind][n]``: slice-labelled cases it had."""

    wt: dict[str, dict[int, float]]
    weak_cases: dict[str, dict[int, float]]
    partial: bool

    @classmethod
    def read(cls, path: str | Path | None = None) -> "Curve | None":
        """The curve from a payoff report's JSON (default ``CURVE_FILE``); None when there is none yet."""
        path = Path(path or CURVE_FILE)
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        folds = record["plan"]["folds"]
        train_sizes = [record["cases_total"] - len(f) for f in folds]
        n_all = sum(train_sizes) / len(train_sizes)
        wt: dict[str, dict[int, float]] = {}
        weak: dict[str, dict[int, float]] = {}
        for arm in record["arms"].values():
            if not arm["per_case"] or arm.get("tag"):  # diagnostic variants are not on the curve
                continue
            n = n_all if arm["n_full"] is None else arm["n_full"]
            kinds = ("full", *WEAK_ARMS) if arm["n_full"] is None else (arm["kind"],)  # all full ends every curve
            for kind in kinds:
                wt.setdefault(kind, {})[n] = arm["summary"]["WT"]["mean"]
                weak.setdefault(kind, {})[n] = 0.0 if arm["n_full"] is None else n_all - n
        return cls(wt, weak, partial=record["units_done"] < record["units_total"])

    def at(self, kind: str, n: float) -> float | None:
        """WT Dice of ``kind`` at ``n`` fully annotated cases, linearly between measured points (None outside)."""
        points = sorted(self.wt.get(kind, {}).items())
        for (n0, y0), (n1, y1) in zip(points, points[1:]):
            if n0 <= n <= n1:
                return y0 + (y1 - y0) * (n - n0) / (n1 - n0)
        return points[0][1] if len(points) == 1 and points[0][0] == n else None

    def weak_gain(self, kind: str, n: float) -> tuple[float, float] | None:
        """(WT gain of the weak arm over full at ``n``, slice-labelled cases it took), interpolated in n."""
        full, weak = self.at("full", n), self.at(kind, n)
        pts = sorted((m, c) for m, c in self.weak_cases.get(kind, {}).items() if c > 0)
        if full is None or weak is None or not pts:
            return None
        cases = next((c0 + (c1 - c0) * (n - m0) / (m1 - m0) for (m0, c0), (m1, c1) in zip(pts, pts[1:])
                      if m0 <= n <= m1), pts[0][1] if n <= pts[0][0] else pts[-1][1])
        return weak - full, cases


def next_hour(curve: Curve | None, n_full: int, n_slices: int, n_unlabelled: int, cost=None) -> list[Gain]:
    """Expected WT gain of one more hour on each label kind for a list in this annotation state."""
    from weakseg.labels.cost import DEFAULT_COST

    cost = cost or DEFAULT_COST
    kinds = ("full", "slices", "scribbles", "regions")
    hour = {k: 60.0 / cost.per_case(k) if cost.per_case(k) else float("inf") for k in kinds}
    if curve is None:
        return [Gain(k, hour[k], None, "no payoff curve measured yet") for k in kinds]
    out = []
    # full: more delineations, with the slice labels the list already has
    weak_kind = max(WEAK_ARMS, key=lambda k: (curve.weak_gain(k, n_full) or (-1.0, 0))[0]) if n_slices else "full"
    now, then = curve.at(weak_kind, n_full), curve.at(weak_kind, n_full + hour["full"])
    out.append(Gain("full", hour["full"], None if now is None or then is None else then - now,
                    "" if now is not None and then is not None else "outside the measured range"))
    # slice labels: more slice-labelled cases, at the list's number of delineations
    added = min(hour["slices"], n_unlabelled)
    best = None
    for kind in WEAK_ARMS if added > 0 else ():
        measured = curve.weak_gain(kind, n_full)
        if measured is None:
            continue
        gain, cases = measured
        share = (min(n_slices + added, cases) - min(n_slices, cases)) / cases
        if best is None or gain * share > best[0]:
            best = (gain * share, kind, n_slices + added > cases)
    if best is None:
        out.append(Gain("slices", added, None, "no unlabelled case left" if added <= 0 else "outside the measured range"))
    else:
        note = f"via {'mixed supervision' if best[1] == 'mixed' else 'self-training'}"
        note += "; beyond the slice-labelled cases measured, not counted" if best[2] else ""
        out.append(Gain("slices", added, best[0], note))
    for kind in ("scribbles", "regions"):
        out.append(Gain(kind, hour[kind], None, "not measured (the engine cannot train on them yet)"))
    return out


def state_of(entries) -> tuple[int, int, int]:
    """(fully annotated, slice-labelled, unlabelled) cases of a WeakSegTrain case list (``CaseEntry``s)."""
    full = sum(1 for e in entries if e.has_full_labels or "full" in e.kinds)
    slices = sum(1 for e in entries if not (e.has_full_labels or "full" in e.kinds) and "slices" in e.kinds)
    return full, slices, len(entries) - full - slices


def describe(gains: list[Gain], partial: bool = False) -> str:
    """One line per label kind for the panel, best first."""
    measured = sorted((g for g in gains if g.gain is not None), key=lambda g: -g.gain)
    lines = [f"{g.kind}: {g.cases:.1f} more case(s), WT Dice {g.gain * 100:+.1f} points"
             + (f" ({g.note})" if g.note else "") for g in measured]
    lines += [f"{g.kind}: {g.note}" for g in gains if g.gain is None]
    if partial:
        lines.append("(from a partial study: some folds are still training)")
    return "\n".join(lines)
