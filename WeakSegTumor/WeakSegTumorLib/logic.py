"""WeakSegTumor Logic: brain-tumour segmentation of the loaded MRI sequences (no Qt)."""

from __future__ import annotations

from weakseg_mrml.segment_logic import SegmentLogic


class WeakSegTumorLogic(SegmentLogic):
    """Pick sequences and a tumour model, Segment in the background, review, export RTSTRUCT/SEG.

    All methods take and return MRML nodes and plain values; see ``SegmentLogic``.
    """

    model_kind = "tumour"
