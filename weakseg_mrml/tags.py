"""Segment tags: ``vtkSegment.GetTag`` returns its value through an out-argument in Python."""

from __future__ import annotations

from vtkmodules.vtkCommonCore import reference

from weakseg_mrml import ATTRIBUTE_PREFIX

RT_TYPE_TAG = ATTRIBUTE_PREFIX + "RTROIInterpretedType"
"""The RTROIInterpretedType the RT export writes for a segment (e.g. CTV for the infiltration); none: the
ROI table's type for its name."""


def get_tag(segment, name: str) -> str | None:
    """The tag's value, or None when the segment has no such tag."""
    value = reference("")
    return str(value) if segment.GetTag(name, value) else None


def segment_ids_with_tag(segmentation, name: str, value: str | None = None) -> list[str]:
    """IDs of segments carrying tag ``name`` (equal to ``value`` when given), in segment order."""
    out = []
    for index in range(segmentation.GetNumberOfSegments()):
        tag = get_tag(segmentation.GetNthSegment(index), name)
        if tag is not None and (value is None or tag == value):
            out.append(segmentation.GetNthSegmentID(index))
    return out
