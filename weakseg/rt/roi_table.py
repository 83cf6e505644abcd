"""Map clinical ROI names ("Parotid-Lt", "L Parotid", "Parotid_L") to WeakSeg classes.

The table is an editable CSV (``weakseg/resources/roi_table.csv`` by default): one row per
class with its TG-263 name and name variants. Names are compared after normalisation
(case, separators, and a side token at either end), so one variant covers all spellings
of a side.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from weakseg.errors import WeakSegError

DEFAULT_TABLE = Path(__file__).resolve().parents[1] / "resources" / "roi_table.csv"
_LEFT = {"l", "lt", "left", "lft", "sin", "links"}
_RIGHT = {"r", "rt", "right", "rgt", "dx", "rechts"}


def normalise(name: str) -> tuple[str, str | None]:
    """ROI name → (base without separators, 'L' / 'R' / None)."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.strip())  # OpticNrv -> Optic Nrv
    tokens = [t for t in re.split(r"[\s_\-.,()/\\]+", spaced.lower()) if t]
    side = None
    for index in (-1, 0):
        if len(tokens) > 1 and (tokens[index] in _LEFT or tokens[index] in _RIGHT):
            side = "L" if tokens[index] in _LEFT else "R"
            tokens.pop(index)
            break
    return "".join(tokens), side


@dataclass(frozen=True)
class RoiTable:
    """Lookup from normalised (base, side) to class key, plus each class's TG-263 name."""

    keys: dict[tuple[str, str | None], str]
    tg263: dict[str, str]

    @property
    def classes(self) -> list[str]:
        return list(self.tg263)

    def lookup(self, roi_name: str) -> str | None:
        """The class of ``roi_name``, or None when the table does not know it."""
        return self.keys.get(normalise(roi_name))


def load_roi_table(path: str | Path | None = None) -> RoiTable:
    path = Path(path) if path else DEFAULT_TABLE
    if not path.is_file():
        raise WeakSegError("ROI table not found", path)
    keys: dict[tuple[str, str | None], str] = {}
    tg263: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if line.strip() and not line.startswith("#"))
        if not rows.fieldnames or not {"class", "tg263"} <= set(rows.fieldnames):
            raise WeakSegError("ROI table needs the columns class, tg263, variants", path)
        for row in rows:
            cls, name = row["class"].strip(), row["tg263"].strip()
            tg263[cls] = name
            base, side = normalise(name)
            keys.setdefault((base, side), cls)
            for variant in (row.get("variants") or "").split(";"):
                if variant.strip():
                    vbase, vside = normalise(variant)
                    keys.setdefault((vbase, vside or side), cls)
    return RoiTable(keys, tg263)
