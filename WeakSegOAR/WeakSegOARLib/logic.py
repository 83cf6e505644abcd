"""WeakSegOAR Logic: organs at risk from any OAR model card, with RTSTRUCT export as the main output (no Qt)."""

from __future__ import annotations

from pathlib import Path

from weakseg_mrml import oar_review
from weakseg_mrml.oar_segments import add_laterality
from weakseg_mrml.segment_logic import SegmentLogic


class WeakSegOARLogic(SegmentLogic):
    """The Segment flow for organ-at-risk models (cards whose method is ``oar``): one segment per organ with
    its TG-263 name, SNOMED CT type and side, colour from the card; a per-organ review on the thesis's scale
    stored on the node; the panel opens with its RTSTRUCT export section expanded."""

    model_kind = "oar"
    review_scale = oar_review.SCALE

    def import_result(self, result: dict, volume_node, output_node=None):
        node = SegmentLogic.import_result(self, result, volume_node, output_node)
        add_laterality(node)
        return node

    @staticmethod
    def ratings(segmentation_node) -> dict[str, str]:
        return oar_review.ratings(segmentation_node)

    @staticmethod
    def rate(segmentation_node, segment_name: str, rating: str | None) -> None:
        oar_review.set_rating(segmentation_node, segment_name, rating)

    @staticmethod
    def review_rows(segmentation_node) -> list[dict[str, str]]:
        return oar_review.review_rows(segmentation_node)

    @staticmethod
    def export_review(segmentation_node, path: str | Path) -> Path:
        return oar_review.write_review_csv(segmentation_node, path)
