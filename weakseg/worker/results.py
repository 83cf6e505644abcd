"""Summaries of engine results that the panels show."""

from __future__ import annotations


def low_confidence_slices(slice_table: list[dict], low: float = 0.25, high: float = 0.75) -> list[dict]:
    """Slices where some class's presence probability lies in [low, high]: the model was unsure there.

    Each item: ``slice`` (axial index on the canonical LPS grid), ``z_mm`` (its LPS z = RAS S
    position, which is what a slice view jumps to), and ``p`` {class: probability} for the
    uncertain classes; sorted most uncertain first (probability closest to 0.5).
    """
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"need 0 <= low <= high <= 1, got {low}, {high}")
    out = []
    for row in slice_table:
        unsure = {key[2:]: float(value) for key, value in row.items()
                  if key.startswith("p_") and value is not None and low <= float(value) <= high}
        if unsure:
            out.append({"slice": int(row["slice"]), "z_mm": float(row.get("z_mm", 0.0)), "p": unsure})
    out.sort(key=lambda item: min(abs(p - 0.5) for p in item["p"].values()))
    return out


def review_slices(slice_table: list[dict], low: float = 0.25, high: float = 0.75) -> list[dict]:
    """The slices a reviewer should look at, in order: first those the method flagged (GAN seeds' difference
    score below its threshold; lowest score first, ``flagged`` True), then the low-confidence ones."""
    flagged = [{"slice": int(row["slice"]), "z_mm": float(row.get("z_mm", 0.0)), "p": {}, "flagged": True,
                "difference_score": float(row["difference_score"])}
               for row in slice_table if row.get("flagged") is True]
    flagged.sort(key=lambda item: item["difference_score"])
    seen = {item["slice"] for item in flagged}
    return flagged + [item for item in low_confidence_slices(slice_table, low, high) if item["slice"] not in seen]
