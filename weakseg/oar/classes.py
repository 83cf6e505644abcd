"""The thesis's eight non-exclusive OAR classes, their output organs (with side) and containment rules.

The network has one head per class; bilateral classes (eye, lens, optic nerve,
hippocampus) are one class each and are split into left and right afterwards. The output
labelmap is exclusive: where organs overlap the smaller one wins (lens over eye, brainstem
and hippocampus over brain), in the order of ``ORGANS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.oar.label_table import LABEL_TABLE

CLASSES = ("eye", "lens", "optic nerve", "optic chiasm", "pituitary gland", "hippocampus", "brainstem", "brain")
BILATERAL = ("eye", "lens", "optic nerve", "hippocampus")

CONTAINMENT = {
    # (known class, unknown class): what the known mask tells about the unknown one (thesis §4.3 and its
    # recommended additions). 'outside': the unknown class is negative outside the known mask;
    # 'inside': the unknown class is positive inside the known mask.
    ("eye", "lens"): "outside",
    ("brain", "brainstem"): "outside",
    ("brain", "hippocampus"): "outside",
    ("lens", "eye"): "inside",
    ("brainstem", "brain"): "inside",
    ("hippocampus", "brain"): "inside",
}
"""Opt-in (``OARConfig.containment``): only valid where the clinical brain contour includes the brainstem."""


@dataclass(frozen=True)
class Organ:
    """One output segment: TG-263 name, labelmap value, thesis class, side ('L', 'R' or None)."""

    name: str
    value: int
    thesis_class: str
    side: str | None
    color: tuple[float, float, float]
    snomed_code: str
    snomed_meaning: str


def _organs() -> tuple[Organ, ...]:
    by_name = {e["name"]: e for e in LABEL_TABLE}
    order = ["Brain", "Eye_L", "Eye_R", "Lens_L", "Lens_R", "OpticNrv_L", "OpticNrv_R", "OpticChiasm", "Pituitary",
             "Hippocampus_L", "Hippocampus_R", "Brainstem"]
    out = []
    for value, name in enumerate(order, start=1):
        e = by_name[name]
        side = e["laterality"]["meaning"][0] if e.get("laterality") else None
        out.append(Organ(name, value, e["thesis_class"], side, tuple(c / 255 for c in e["color"]),
                         e["snomed"]["code"], e["snomed"]["meaning"]))
    return tuple(out)


ORGANS = _organs()
"""Output organs in painting order (later ones win where masks overlap)."""


def organ(thesis_class: str, side: str | None = None) -> Organ:
    for entry in ORGANS:
        if entry.thesis_class == thesis_class and entry.side == side:
            return entry
    raise KeyError((thesis_class, side))


TG263_TO_CLASS = {o.name: o.thesis_class for o in ORGANS}
"""TG-263 organ name (as the ROI table maps clinical names) → thesis class."""
