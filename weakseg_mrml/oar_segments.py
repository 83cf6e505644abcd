"""Organ segments as Slicer shows them: the side as the terminology's type modifier (Left / Right).

Model cards carry one SNOMED CT code per organ ("Eye"); the TG-263 name says the side
("Eye_L"). Slicer's DICOM master list codes laterality as a type modifier, so the OAR panel
adds it, and the RT-Struct export keeps the TG-263 names.
"""

from __future__ import annotations

from weakseg_mrml.terminology import Terminology

LEFT = ("SCT", "7771000", "Left")
RIGHT = ("SCT", "24028007", "Right")


def side_of(name: str) -> str | None:
    """'L' / 'R' from a TG-263 name's suffix (Eye_L, OpticNrv_R), else None."""
    for suffix, side in (("_L", "L"), ("_R", "R")):
        if name.endswith(suffix):
            return side
    return None


def add_laterality(segmentation_node) -> int:
    """Set Left/Right type modifiers on the node's lateral organs; returns how many segments were changed."""
    segmentation = segmentation_node.GetSegmentation()
    changed = 0
    for i in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(i)
        side = side_of(segment.GetName())
        entry = segment.GetTerminology()
        if side is None or not entry:
            continue
        term = Terminology.parse(entry)
        modifier = LEFT if side == "L" else RIGHT
        segment.SetTerminology(Terminology(term.category, term.type, term.region, modifier, term.region_modifier).entry())
        segment.SetTag("WeakSeg.Side", side)
        changed += 1
    return changed
