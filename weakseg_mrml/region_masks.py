"""The annotator's EMReDL masks (paper 000) as tagged segments ⇄ the weak-label store.

An annotator draws two rough regions instead of a delineation: the enhancing core (with its
necrosis) and the FLAIR abnormality; optionally the necrosis alone. They are painted with the
Segment Editor's own effects into one segmentation per case volume (node attribute
``WeakSeg.Role = region-masks``) and saved as the store's full masks ``core``, ``flair`` and
``necrosis``, which ``weakseg train --method emredl`` reads (ROI2/ROI3 are derived there).
Segments are found by their class tag, never by name or order. A segment nobody painted is not
saved: not drawn yet is not "absent". The default names are those the Infiltration section
recognises, so the same segmentation also feeds it.
"""

from __future__ import annotations

import numpy as np

from weakseg.errors import WeakSegError
from weakseg.labels import WeakLabelStore
from weakseg_mrml import ROLE_ATTRIBUTE
from weakseg_mrml.segmentation import (CLASS_TAG, add_segment_from_mask, find_role_node, get_or_create_role_node,
                                      segment_mask)
from weakseg_mrml.tags import get_tag, segment_ids_with_tag
from weakseg_mrml.volumes import image_from_volume

ROLE = "region-masks"
CLASSES = {"core": ("Enhancing core", (0.9, 0.2, 0.2)), "flair": ("FLAIR abnormality", (0.3, 0.7, 1.0)),
           "necrosis": ("Necrosis", (1.0, 0.9, 0.3))}
"""Store class → (segment name, colour). 'core' holds the whole core, necrosis included (spec §7)."""
REQUIRED = ("core", "flair")


def find_node(scene, volume_node):
    return find_role_node(scene, volume_node, ROLE)


def get_or_create_node(scene, volume_node):
    return get_or_create_role_node(scene, volume_node, ROLE, "core and FLAIR masks")


def segment_id(node, cls: str) -> str | None:
    found = segment_ids_with_tag(node.GetSegmentation(), CLASS_TAG, cls)
    return found[0] if found else None


def ensure_segments(node, classes=REQUIRED) -> dict[str, str]:
    """Create (if missing) the empty segments of ``classes``; class → segment ID."""
    unknown = sorted(set(classes) - set(CLASSES))
    if unknown:
        raise WeakSegError(f"unknown mask class(es) {', '.join(unknown)} (expected {', '.join(CLASSES)})")
    segmentation = node.GetSegmentation()
    out = {}
    for cls in classes:
        found = segment_id(node, cls)
        if found is None:
            name, colour = CLASSES[cls]
            found = segmentation.AddEmptySegment(f"mask_{cls}", name, colour)
            segment = segmentation.GetSegment(found)
            segment.SetTag(ROLE_ATTRIBUTE, ROLE)
            segment.SetTag(CLASS_TAG, cls)
        out[cls] = found
    return out


def drawn_masks(node, reference) -> dict[str, np.ndarray]:
    """Class → bool (z, y, x) mask on ``reference``'s grid, for every tagged segment that holds voxels."""
    out = {}
    for cls in CLASSES:
        found = segment_id(node, cls)
        if found is not None:
            mask = segment_mask(node, found, reference)
            if mask.any():
                out[cls] = mask
    return out


def store_from_masks(node, store: WeakLabelStore, volume_node) -> list[str]:
    """Copy the drawn masks into the store's full masks; returns the classes written."""
    reference = image_from_volume(volume_node)
    if not store.grid.matches(reference):
        raise WeakSegError(f"volume '{volume_node.GetName()}' is not on the grid the weak labels were made on", store.path)
    masks = drawn_masks(node, reference)
    store.add_classes([cls for cls in masks if cls not in store.classes])
    for cls, mask in masks.items():
        store.set_full_mask(cls, mask)
    return list(masks)


def differs_from_store(node, store: WeakLabelStore, volume_node) -> list[str]:
    """Classes whose drawn mask differs from the saved one (what closing the case would lose)."""
    reference = image_from_volume(volume_node)
    changed = []
    for cls, mask in drawn_masks(node, reference).items():
        saved = store.full_mask(cls) if cls in store.classes else None
        if saved is None or not np.array_equal(saved.astype(bool), mask):
            changed.append(cls)
    return changed


def masks_from_store(scene, store: WeakLabelStore, volume_node):
    """Show the store's core / FLAIR / necrosis masks as tagged segments; None when it holds none."""
    saved = {cls: store.full_mask(cls) for cls in CLASSES if cls in store.classes}
    saved = {cls: mask for cls, mask in saved.items() if mask is not None}
    if not saved:
        return None
    node = get_or_create_node(scene, volume_node)
    reference = image_from_volume(volume_node)
    ids = ensure_segments(node, list(saved))
    for cls, mask in saved.items():
        segment = node.GetSegmentation().GetSegment(ids[cls])
        tags = {tag: get_tag(segment, tag) for tag in (ROLE_ATTRIBUTE, CLASS_TAG)}
        add_segment_from_mask(node, mask.astype(bool), reference, ids[cls], segment.GetName(), segment.GetColor(), tags)
    return node


__all__ = ["CLASSES", "REQUIRED", "drawn_masks", "differs_from_store", "ensure_segments", "find_node",
           "get_or_create_node", "masks_from_store", "store_from_masks"]
