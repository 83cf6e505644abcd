"""The effect's Qt code (SegmentEditorEffect.py); its logic is Qt-free in ``weakseg_mrml.slice_view``."""
