"""Scribbles (partial voxel labels) as segments tagged by role ⇄ the weak-label store.

Each volume has one scribble segmentation (node attribute ``WeakSeg.Role = scribbles``),
painted with the Segment Editor's own effects. Per class there is a foreground and a
background segment, identified only by their tags (``WeakSeg.Class``, ``WeakSeg.Polarity``),
never by order, name or visibility: renaming or reordering segments cannot mislabel data.
Voxels painted both foreground and background are a contradiction and are stored as
unknown (the painter lets strokes overlap on purpose, so both can be corrected later).
"""

from __future__ import annotations

import logging

import numpy as np

from weakseg.labels import BACKGROUND, FOREGROUND, UNKNOWN, WeakLabelStore
from weakseg_mrml import ATTRIBUTE_PREFIX, ROLE_ATTRIBUTE
from weakseg_mrml.segmentation import (CLASS_TAG, add_segment_from_mask, find_role_node, get_or_create_role_node,
                                      segment_mask)
from weakseg_mrml.tags import get_tag, segment_ids_with_tag
from weakseg_mrml.volumes import image_from_volume

log = logging.getLogger("weakseg")

ROLE = "scribbles"
POLARITY_TAG = ATTRIBUTE_PREFIX + "Polarity"
SEGMENT_ROLE_TAG = ROLE_ATTRIBUTE
POLARITIES = ("foreground", "background")
COLORS = {"foreground": (0.2, 0.85, 0.3), "background": (0.9, 0.25, 0.25)}


def find_scribble_node(scene, volume_node):
    return find_role_node(scene, volume_node, ROLE)


def get_or_create_scribble_node(scene, volume_node):
    return get_or_create_role_node(scene, volume_node, ROLE, "scribbles")


def scribble_segment_id(node, cls: str, polarity: str) -> str | None:
    """The segment holding ``cls``'s ``polarity`` strokes, found by tags."""
    found = [sid for sid in segment_ids_with_tag(node.GetSegmentation(), CLASS_TAG, cls)
             if get_tag(node.GetSegmentation().GetSegment(sid), POLARITY_TAG) == polarity]
    return found[0] if found else None


def ensure_class_segments(node, cls: str) -> dict[str, str]:
    """Create (if missing) the empty foreground/background segments of ``cls``; polarity → segment ID."""
    segmentation = node.GetSegmentation()
    out = {}
    for polarity in POLARITIES:
        segment_id = scribble_segment_id(node, cls, polarity)
        if segment_id is None:
            segment_id = segmentation.AddEmptySegment(f"{cls}_{polarity}", f"{cls} {polarity}", COLORS[polarity])
            segment = segmentation.GetSegment(segment_id)
            segment.SetTag(SEGMENT_ROLE_TAG, ROLE)
            segment.SetTag(CLASS_TAG, cls)
            segment.SetTag(POLARITY_TAG, polarity)
            display = node.GetDisplayNode()
            if display is not None:  # strokes stay visible without hiding the anatomy
                display.SetSegmentOpacity2DFill(segment_id, 0.5)
        out[polarity] = segment_id
    return out


def scribble_classes(node) -> list[str]:
    segmentation = node.GetSegmentation()
    seen: list[str] = []
    for segment_id in segment_ids_with_tag(segmentation, SEGMENT_ROLE_TAG, ROLE):
        cls = get_tag(segmentation.GetSegment(segment_id), CLASS_TAG)
        if cls and cls not in seen:
            seen.append(cls)
    return seen


def scribble_labels(node, cls: str, reference) -> np.ndarray:
    """int8 (z, y, x): FOREGROUND 1, BACKGROUND 0, UNKNOWN -1 (contradictory voxels unknown)."""
    shape = tuple(reversed(reference.GetSize()))
    masks = {}
    for polarity in POLARITIES:
        segment_id = scribble_segment_id(node, cls, polarity)
        masks[polarity] = segment_mask(node, segment_id, reference) if segment_id else np.zeros(shape, bool)
    both = masks["foreground"] & masks["background"]
    if both.any():
        log.warning("%d voxels of class %s are scribbled both foreground and background; stored as unknown",
                    int(both.sum()), cls)
    out = np.full(shape, UNKNOWN, np.int8)
    out[masks["foreground"] & ~both] = FOREGROUND
    out[masks["background"] & ~both] = BACKGROUND
    return out


def store_from_scribbles(node, store: WeakLabelStore, volume_node) -> list[str]:
    """Copy every class's scribbles into the store; returns the classes written."""
    reference = image_from_volume(volume_node)
    if not store.grid.matches(reference):
        from weakseg.errors import WeakSegError

        raise WeakSegError(f"volume '{volume_node.GetName()}' is not on the grid the weak labels were made on", store.path)
    written = []
    for cls in scribble_classes(node):
        labels = scribble_labels(node, cls, reference)
        if (labels == UNKNOWN).all() and cls not in store.known_classes("scribbles"):
            continue
        store.set_scribble_labels(cls, labels)
        written.append(cls)
    return written


def scribbles_from_store(scene, store: WeakLabelStore, volume_node):
    """Show the store's scribbles as tagged segments (created on the volume's grid)."""
    node = get_or_create_scribble_node(scene, volume_node)
    reference = image_from_volume(volume_node)
    for cls in store.known_classes("scribbles"):
        labels = store.scribbles(cls)
        ids = ensure_class_segments(node, cls)
        for polarity, value in (("foreground", FOREGROUND), ("background", BACKGROUND)):
            segment = node.GetSegmentation().GetSegment(ids[polarity])
            tags = {tag: get_tag(segment, tag) for tag in (SEGMENT_ROLE_TAG, CLASS_TAG, POLARITY_TAG)}
            add_segment_from_mask(node, labels == value, reference, ids[polarity], segment.GetName(),
                                  segment.GetColor(), tags)
    return node
