"""Per-organ clinical rating of an OAR result (the thesis's scale), stored with the case, exportable as CSV.

Each segment gets one of ``SCALE`` (or stays unrated); the ratings live in an attribute of
the segmentation node, so they are saved with the scene and travel with the case. The CSV
names organs, ratings and the model, never the patient.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from weakseg.errors import WeakSegError
from weakseg.io.atomic import write_text_atomic
from weakseg_mrml import ATTRIBUTE_PREFIX

SCALE = ("accepted", "minor edit", "major edit", "rejected")
REVIEW_ATTRIBUTE = ATTRIBUTE_PREFIX + "OrganReview"


def ratings(segmentation_node) -> dict[str, str]:
    """Segment name → rating, for the segments rated so far."""
    text = segmentation_node.GetAttribute(REVIEW_ATTRIBUTE)
    return dict(json.loads(text)) if text else {}


def set_rating(segmentation_node, segment_name: str, rating: str | None) -> None:
    """Rate one organ (``None`` clears it); the segment must exist and the rating be on the scale."""
    if rating is not None and rating not in SCALE:
        raise WeakSegError(f"unknown rating '{rating}' (expected one of {', '.join(SCALE)})")
    segmentation = segmentation_node.GetSegmentation()
    names = {segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())}
    if segment_name not in names:
        raise WeakSegError(f"segmentation '{segmentation_node.GetName()}' has no segment '{segment_name}'")
    current = ratings(segmentation_node)
    if rating is None:
        current.pop(segment_name, None)
    else:
        current[segment_name] = rating
    segmentation_node.SetAttribute(REVIEW_ATTRIBUTE, json.dumps(current, sort_keys=True))


def review_rows(segmentation_node) -> list[dict[str, str]]:
    """One row per segment in the node's order: organ, rating ('' when unrated), model id and version."""
    from weakseg_mrml.provenance import read_provenance

    provenance = read_provenance(segmentation_node)
    model = provenance.model_id if provenance else ""
    version = provenance.model_version if provenance else ""
    given = ratings(segmentation_node)
    segmentation = segmentation_node.GetSegmentation()
    rows = []
    for i in range(segmentation.GetNumberOfSegments()):
        name = segmentation.GetNthSegment(i).GetName()
        rows.append({"organ": name, "rating": given.get(name, ""), "model": model, "model_version": version})
    return rows


def write_review_csv(segmentation_node, path: str | Path) -> Path:
    """The ratings as CSV (written atomically): organ, rating, model, model_version."""
    rows = review_rows(segmentation_node)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["organ", "rating", "model", "model_version"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(Path(path), buffer.getvalue())
    return Path(path)
