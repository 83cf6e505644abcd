"""Annotation cost: how many annotator minutes a label mix took, so accuracy can be plotted against it.

The figures (a frozen, configurable ``CostModel``; minutes per case and label kind):

- ``full`` 45 min: "manual delineation of tumor tissues in one MRI may take about 45 minutes for an
  experienced oncologist using a dedicated segmentation tool" (paper 001, Mlynarski et al., §4.3
  Results, on the annotation cost; ../shared/docs/papers/001_60f56efe38ab763d.txt line 203; the
  same figure in the thesis, 004_8be7da05818612f1.txt line 2030).
- ``slices`` 1.5 min: "determining the range of axial slices containing tumor tissues may take 1-2
  minutes" (paper 001, same paragraph); the midpoint.
- ``scribbles`` 3 min and ``regions`` 10 min: *assumptions*, no paper in ../shared/docs/papers
  times them. A scribble set here is weakseg.labels.derive's default simulated annotator (one
  foreground stroke and one background arc on 3 slices, about a minute a slice); a region pair is
  paper 000's rough core (ROI1) + FLAIR-abnormality (ROI2) outlines, a few slices each, between
  the two. Change them with ``CostModel(scribbles=...)`` or ``CostModel.from_dict``; the report
  states the model it used.

A case with a full delineation costs only that: slice labels, scribbles and regions follow from it.
Otherwise the kinds it has add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from weakseg.errors import WeakSegError
from weakseg.labels.schema import KINDS
from weakseg.methods.options import Options

SOURCES = {
    "full": "paper 001 §4.3 (about 45 min per MRI, experienced oncologist, dedicated tool)",
    "slices": "paper 001 §4.3 (1-2 min for the range of axial slices with tumour; midpoint)",
    "scribbles": "assumption (no paper times scribbles): 3 slices x (1 foreground + 1 background stroke), ~1 min a slice",
    "regions": "assumption (paper 000 gives no time): rough core + FLAIR-abnormality outlines on a few slices",
}
"""Where each default comes from; reports print it beside the numbers."""


@dataclass(frozen=True)
class CostModel(Options):
    """Annotator minutes per case for each label kind (``weakseg.labels.schema.KINDS``)."""

    OPTIONS_OF = "annotation-cost option(s)"

    full: float = 45.0
    slices: float = 1.5
    scribbles: float = 3.0
    regions: float = 10.0

    def __post_init__(self) -> None:
        for kind in KINDS:
            value = getattr(self, kind)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise WeakSegError(f"annotation cost of '{kind}' must be a number of minutes >= 0, got {value!r}")

    def per_case(self, kind: str) -> float:
        """Minutes for one case labelled with ``kind``."""
        if kind not in KINDS:
            raise WeakSegError(f"unknown label kind '{kind}' (known: {', '.join(KINDS)})")
        return float(getattr(self, kind))

    def case_minutes(self, kinds: Iterable[str]) -> float:
        """Minutes for one case holding these kinds: a full delineation subsumes the rest."""
        kinds = set(kinds)
        costs = {k: self.per_case(k) for k in kinds}
        return costs["full"] if "full" in kinds else sum(costs.values())

    def minutes(self, mix: Mapping[str, int]) -> float:
        """Minutes for a label mix, ``{kind: number of cases}``, each case labelled with one kind."""
        total = 0.0
        for kind, count in mix.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise WeakSegError(f"number of '{kind}' cases must be a whole number >= 0, got {count!r}")
            total += count * self.per_case(kind)
        return total

    def hours(self, mix: Mapping[str, int]) -> float:
        return self.minutes(mix) / 60.0


DEFAULT_COST = CostModel()
