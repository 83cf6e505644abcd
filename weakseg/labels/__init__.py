"""Weak labels — the project's data model.

Per case, a versioned sidecar (``<case>/weaklabels/labels.json`` + NRRD masks) holding any mix of
slice labels (present / absent / unknown per slice, per class, per axis), scribbles
(foreground / background / unknown voxels per class), EMReDL region labels (ROI1 core, ROI2
possibly infiltrated, ROI3 normal-appearing) and full voxel masks, with annotator, timestamps and
status. Typical use::

    from weakseg.labels import WeakLabelStore, PRESENT
    store = WeakLabelStore.open(case_dir)              # or sidecar=elsewhere, grid=image
    store.set_slice_range("WT", "axial", 40, 90)       # 40..90 present, the rest absent
    store.set_slice_label("ET", "axial", 62, PRESENT)
    store.set_scribbles("WT", fg_mask, bg_mask)
    store.status = "complete"; store.annotator = "jdoe"
    store.save()                                       # atomic

``weakseg.labels.derive`` makes weak labels from full ones as the papers did;
``weakseg.labels.manifest`` lists a dataset's cases, label kinds, splits and file hashes.
"""

from weakseg.labels.schema import (
    ABSENT, AXES, BACKGROUND, FOREGROUND, KINDS, OUTSIDE, PRESENT, ROI1, ROI2, ROI3, SCHEMA_VERSION, SIDECAR_DIR,
    STATUSES, UNKNOWN, Grid,
)
from weakseg.labels.store import WeakLabelStore

__all__ = [
    "WeakLabelStore", "Grid", "PRESENT", "ABSENT", "UNKNOWN", "FOREGROUND", "BACKGROUND", "OUTSIDE", "ROI1", "ROI2",
    "ROI3", "AXES", "KINDS", "STATUSES", "SCHEMA_VERSION", "SIDECAR_DIR",
]
