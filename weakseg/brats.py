"""BraTS tumour label conventions and the WT/TC/ET regions derived from them.

BraTS 2018: 1 necrotic/non-enhancing core, 2 edema, 4 enhancing.
BraTS 2021+: the same with 3 instead of 4. Regions: WT = all tumour, TC = core +
enhancing, ET = enhancing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NCR, ED = 1, 2
REGIONS = ("WT", "TC", "ET")


@dataclass(frozen=True)
class LabelConvention:
    name: str
    enhancing: int

    @property
    def values(self) -> tuple[int, int, int]:
        return (NCR, ED, self.enhancing)


BRATS2018 = LabelConvention("brats2018", 4)
BRATS2021 = LabelConvention("brats2021", 3)

SUBREGIONS = {
    # name, RGB colour (Slicer-style), SNOMED CT code (value, meaning)
    "necrosis": ((1.0, 0.9, 0.3), ("6574001", "Necrosis")),
    "edema": ((0.3, 0.7, 1.0), ("79654002", "Edema")),
    "enhancing": ((0.9, 0.2, 0.2), ("86049000", "Malignant neoplasm, primary")),
}


def detect_convention(labels: np.ndarray) -> LabelConvention:
    """Guess the convention from the values present; 4 means 2018, 3 means 2021+."""
    present = set(np.unique(labels).tolist())
    if present - {0, 1, 2, 3, 4}:
        raise ValueError(f"unexpected tumour label values {sorted(present - {0, 1, 2, 3, 4})}")
    if 3 in present and 4 in present:
        raise ValueError("labels contain both 3 and 4; cannot tell BraTS 2018 from 2021 convention")
    return BRATS2021 if 3 in present else BRATS2018


def to_convention(labels: np.ndarray, source: LabelConvention, target: LabelConvention) -> np.ndarray:
    out = labels.copy()
    if source.enhancing != target.enhancing:
        out[labels == source.enhancing] = target.enhancing
    return out


def regions(labels: np.ndarray, convention: LabelConvention | None = None) -> dict[str, np.ndarray]:
    """Boolean WT/TC/ET masks from a label array in either convention."""
    conv = convention or detect_convention(labels)
    et = labels == conv.enhancing
    tc = et | (labels == NCR)
    wt = tc | (labels == ED)
    return {"WT": wt, "TC": tc, "ET": et}
