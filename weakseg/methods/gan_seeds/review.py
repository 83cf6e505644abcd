"""Quality flags for export: leave flagged slices out of a labelmap, or mark the structure for review.

The slice table (``weakseg segment``'s ``*_slices.csv`` or ``SegmentationResult.slice_table``)
indexes axial slices of the canonical LPS grid, so labels are brought to that grid, edited and
brought back. Missed tumour is never flagged (an empty slice has difference score 1).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.preprocess import from_canonical, to_canonical

REVIEW_TEXT = "needs review: {n} slice(s) with a low difference score (d < {t}): {slices}"


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def flagged_slices(rows: Iterable[dict]) -> list[int]:
    """Canonical axial indices of the flagged slices (rows without a 'flagged' column: none)."""
    return [int(row["slice"]) for row in rows if _flag(row.get("flagged", False))]


def read_slice_table(path: str | Path) -> list[dict]:
    """Rows of a ``*_slices.csv``; a one-line error when the file is missing or has no 'slice' column."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise WeakSegError(f"cannot read slice table ({exc.strerror})", path) from None
    if not rows or "slice" not in rows[0]:
        raise WeakSegError("not a slice table (no 'slice' column)", path)
    return rows


def remove_flagged_slices(labels: sitk.Image, rows: Iterable[dict]) -> sitk.Image:
    """A copy of ``labels`` (any orientation) with every flagged axial slice set to 0."""
    flagged = flagged_slices(rows)
    canonical = to_canonical(labels)
    array = sitk.GetArrayFromImage(canonical)
    if flagged and (max(flagged) >= array.shape[0] or min(flagged) < 0):
        bad = max(flagged) if max(flagged) >= array.shape[0] else min(flagged)
        raise WeakSegError(f"slice table names slice {bad}, the labelmap has axial slices 0-{array.shape[0] - 1}")
    array[np.asarray(flagged, dtype=int)] = 0
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(canonical)
    out = from_canonical(out, labels)
    out.CopyInformation(labels)
    return out


def review_note(rows: Iterable[dict], threshold: float = 0.2) -> dict[str, Any]:
    """{'needs_review', 'flagged_slices', 'text'} for a structure's description / the panel's list."""
    flagged = flagged_slices(rows)
    shown = ", ".join(str(s) for s in flagged[:20]) + (" …" if len(flagged) > 20 else "")
    return {"needs_review": bool(flagged), "flagged_slices": flagged,
            "text": REVIEW_TEXT.format(n=len(flagged), t=threshold, slices=shown) if flagged else ""}


FLAG_MODES = ("keep", "drop", "mark")


def flags_for_export(mode: str, labels: Path, rows: Iterable[dict]) -> tuple[Path | sitk.Image, str | None]:
    """(labels to export, series description or None) for flagged slices (``export-rtstruct --flagged``, the panels).

    keep: as they are; drop: an image with the flagged slices removed; mark: the labels as they are, with
    'needs review' and the number of flagged slices in the series description planning systems show."""
    if mode not in FLAG_MODES:
        raise WeakSegError(f"unknown flagged-slice mode '{mode}' (expected {', '.join(FLAG_MODES)})")
    rows = list(rows)
    flagged = flagged_slices(rows)
    if mode == "keep" or not flagged:
        return labels, None
    if mode == "mark":
        return labels, f"WeakSeg, needs review: {len(flagged)} flagged slice(s)"
    if Path(labels).name.lower().endswith(".seg.nrrd"):
        raise WeakSegError("dropping flagged slices needs a labelmap file (.nii.gz, .nrrd), not a .seg.nrrd", labels)
    from weakseg.io.image import read_image

    return remove_flagged_slices(read_image(labels), rows), None

