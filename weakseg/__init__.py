"""WeakSeg engine: brain tumour and organ-at-risk segmentation from weak labels.

The package imports neither Qt nor Slicer, so it runs in CI, headless scripts and
Slicer's worker subprocess alike.
"""

__version__ = "0.1.0"

SEQUENCES = ("t1", "t1c", "t2", "flair")
"""Canonical MRI sequence names, in the channel order every model uses."""
