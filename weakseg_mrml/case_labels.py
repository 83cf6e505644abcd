"""A case's weak labels in the scene ⇄ its weak-label store: the one save used by the Train panel and the effect.

The reference volume of an opened case carries its case folder as an attribute, so the
"WeakSeg slice labels" effect (which only knows the Segment Editor's source volume) saves
into the same store, the same way, as the WeakSeg Train panel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weakseg.errors import WeakSegError
from weakseg.labels import AXES, UNKNOWN, WeakLabelStore
from weakseg_mrml import ATTRIBUTE_PREFIX, region_masks
from weakseg_mrml import scribbles as scribble_io
from weakseg_mrml import slice_labels as slice_io
from weakseg_mrml.volumes import image_from_volume

CASE_FOLDER_ATTRIBUTE = ATTRIBUTE_PREFIX + "CaseFolder"


def set_case_folder(volume_node, folder: str | Path) -> None:
    volume_node.SetAttribute(CASE_FOLDER_ATTRIBUTE, str(Path(folder).resolve()))


def case_folder(volume_node) -> Path | None:
    text = volume_node.GetAttribute(CASE_FOLDER_ATTRIBUTE) if volume_node is not None else None
    return Path(text) if text else None


def copy_scene_labels(scene, volume_node, store: WeakLabelStore) -> None:
    """Copy every slice-label table, the scribbles and the core / FLAIR masks of ``volume_node`` into ``store``
    (not saved yet)."""
    for axis in AXES:
        table = slice_io.find_table(scene, volume_node, axis)
        if table is not None:
            slice_io.store_from_table(table, store)
    scribbles = scribble_io.find_scribble_node(scene, volume_node)
    if scribbles is not None:
        scribble_io.store_from_scribbles(scribbles, store, volume_node)
    masks = region_masks.find_node(scene, volume_node)
    if masks is not None:
        region_masks.store_from_masks(masks, store, volume_node)


def unsaved_classes(scene, volume_node, store: WeakLabelStore) -> list[str]:
    """Classes whose labels in the scene differ from ``store`` (what would be lost by closing the case)."""
    changed = set()
    for axis in AXES:
        table = slice_io.find_table(scene, volume_node, axis)
        if table is None:
            continue
        for cls in slice_io.classes(table):
            scene_values = slice_io.get_labels(table, cls)
            known = cls in store.known_classes("slices", axis)
            stored = store.slice_labels(cls, axis) if known else np.full(scene_values.shape, UNKNOWN, np.int8)
            if not np.array_equal(scene_values, stored):
                changed.add(cls)
    scribbles = scribble_io.find_scribble_node(scene, volume_node)
    if scribbles is not None:
        for cls in scribble_io.scribble_classes(scribbles):
            scene_values = scribble_io.scribble_labels(scribbles, cls, image_from_volume(volume_node))
            known = cls in store.known_classes("scribbles")
            stored = store.scribbles(cls) if known else np.full(scene_values.shape, UNKNOWN, scene_values.dtype)
            if not np.array_equal(scene_values, stored):
                changed.add(cls)
    masks = region_masks.find_node(scene, volume_node)
    if masks is not None:
        changed.update(region_masks.differs_from_store(masks, store, volume_node))
    return sorted(changed)


def save_case_labels(scene, volume_node, *, status: str | None = None, annotator: str | None = None) -> Path:
    """Save the scene's labels of the case whose reference volume is ``volume_node`` into its store."""
    folder = case_folder(volume_node)
    if folder is None:
        raise WeakSegError(f"volume '{volume_node.GetName()}' was not opened as a case in WeakSeg Train; "
                           "open the case there to save its labels")
    store = WeakLabelStore.open(folder, grid=image_from_volume(volume_node))
    return finish_save(scene, volume_node, store, status=status, annotator=annotator)


def finish_save(scene, volume_node, store: WeakLabelStore, *, status: str | None = None,
                annotator: str | None = None) -> Path:
    from weakseg.labels import STATUSES

    copy_scene_labels(scene, volume_node, store)
    if status is not None:
        if status not in STATUSES:
            raise WeakSegError(f"status must be one of {', '.join(STATUSES)}")
        store.status = status
    elif store.status == "not started" and store.kinds():
        store.status = "partial"
    if annotator:
        store.annotator = annotator
    return store.save()
