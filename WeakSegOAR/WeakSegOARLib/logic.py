"""WeakSegOAR Logic: organs at risk from any OAR model card, with RTSTRUCT export as the main output (no Qt)."""

from __future__ import annotations

from weakseg_mrml.segment_logic import SegmentLogic


class WeakSegOARLogic(SegmentLogic):
    """The Segment flow for organ-at-risk models (cards whose method is ``oar``); organs are coded as
    anatomical structures; the panel opens with its RTSTRUCT export section expanded."""

    model_kind = "oar"
