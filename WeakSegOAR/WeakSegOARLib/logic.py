"""WeakSegOAR Logic: organs at risk from any OAR model card, with RTSTRUCT export as the main output (no Qt)."""

from __future__ import annotations

from weakseg_mrml.segment_logic import SegmentLogic


class WeakSegOARLogic(SegmentLogic):
    """The Segment flow for organ-at-risk models (cards whose method is ``oar``); organs are coded as
    anatomical structures, and export defaults to RTSTRUCT."""

    model_kind = "oar"
    default_export = "rtstruct"
