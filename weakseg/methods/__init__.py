"""One module per method, each with the same train/predict shape.

``REQUIRED_SEQUENCES`` says which sequences each method needs, so that a case with a
missing sequence can report which methods can still run.
"""

from __future__ import annotations

from typing import Iterable

REQUIRED_SEQUENCES: dict[str, tuple[str, ...]] = {
    "mixed": ("flair", "t1", "t1c", "t2"),  # paper 001: 4 channels [FLAIR, T1, T1c, T2]
    "gan-seeds": ("flair", "t1", "t1c", "t2"),  # paper 002: classifier on 4 channels, GAN on FLAIR
    "gan-seeds-flair": ("flair",),  # paper 002's pLGG variant: FLAIR only
    "emredl": ("flair", "t1", "t1c", "t2"),  # paper 000: structural + optional physiological maps
    "tumour-2d3d": ("flair",),  # thesis 004: modality-specific subnetworks tolerate missing sequences
    "oar": ("t1",),  # thesis 004: OARs from T1
}


def runnable_methods(available: Iterable[str]) -> list[str]:
    have = set(available)
    return [name for name, needed in REQUIRED_SEQUENCES.items() if set(needed) <= have]
