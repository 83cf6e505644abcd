"""Whole-head label maps that OAR training images are drawn from (the SynthSeg recipe).

Each source becomes an ``OARVolume`` on a 1 mm LPS grid cropped to the head: a compact
*generation* map (one value per tissue label, with a T1 prior intensity for each) from which
``weakseg.phantom.synth_contrast`` paints a new image for every patch, the thesis classes as
bits (bit c = class c, ``weakseg.oar.classes.CLASSES``) and which classes the source knows.

Sources (all without private data; licences in ../shared/data/README.md):
  * ``phantom``: the procedural OAR head (every class known);
  * ``synthseg``: SynthSeg's 20 whole-head training label maps (Apache-2.0): brainstem,
    hippocampus, chiasm and brain known; eyes, lenses, nerves, pituitary unknown;
  * ``spl``: the SPL-PNL atlas label map (3D Slicer licence): eyes, nerves, chiasm, pituitary,
    brainstem, hippocampus known; lens unknown (negative outside the eye by containment);
    brain unknown (positive inside brainstem/hippocampus by containment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.oar.classes import CLASSES

BIT = {name: 1 << i for i, name in enumerate(CLASSES)}

# FreeSurfer label -> relative T1 signal (white matter 1.0); labels missing here get a random one per patch.
FS_T1 = {
    2: 1.0, 41: 1.0, 7: 0.95, 46: 0.95, 16: 0.88, 28: 0.85, 60: 0.85, 10: 0.8, 49: 0.8, 13: 0.85, 52: 0.85,
    11: 0.68, 50: 0.68, 12: 0.72, 51: 0.72, 3: 0.6, 42: 0.6, 8: 0.62, 47: 0.62, 17: 0.6, 53: 0.6, 18: 0.6, 54: 0.6,
    26: 0.65, 58: 0.65, 4: 0.2, 43: 0.2, 5: 0.2, 44: 0.2, 14: 0.2, 15: 0.2, 24: 0.2, 72: 0.2, 30: 0.5, 62: 0.5,
    31: 0.5, 63: 0.5, 77: 0.85, 80: 0.6, 85: 0.88, 35: 0.88, 40: 0.88, 61: 0.88, 215: 0.88, 78: 0.88, 216: 0.88,
    3011: 0.78, 3012: 0.85, 3008: 0.7, 4027: 0.2, 4028: 0.2,
}

SYNTHSEG_CLASSES = {"hippocampus": (17, 53), "brainstem": (16,), "optic chiasm": (85,)}
SPL_CLASSES = {"hippocampus": (17, 53), "brainstem": (35, 40, 61), "optic nerve": (77, 215), "optic chiasm": (85,),
               "pituitary gland": (3011, 3012, 3008), "eye": (4027, 4028)}


@dataclass
class OARVolume:
    """One training volume on a 1 mm LPS grid (arrays z, y, x).

    bits: uint8 class bits; known: classes with labels (others are unknown, or rebuilt by the
    containment table); image: float16 normalised image for real scans, else None and the image
    is painted from ``gen`` with ``prior`` (relative T1 per generation value, NaN = random) for
    every patch; strip: bool brain mask used to simulate skull-stripped inputs (None: never).
    """

    case_id: str
    bits: np.ndarray
    known: tuple[str, ...]
    gen: np.ndarray | None = None
    prior: np.ndarray | None = None
    image: np.ndarray | None = None
    strip: np.ndarray | None = None
    counts: np.ndarray | None = None
    strip_counts: np.ndarray | None = None
    full: bool = False
    boxes: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.bits.shape

    def finish(self) -> "OARVolume":
        """Class boxes (two for bilateral classes, split at the head's mid-x) and generation counts."""
        from weakseg.oar.classes import BILATERAL

        mid = self.shape[2] / 2
        for name in self.known:
            mask = (self.bits & BIT[name]) > 0
            if not mask.any():
                continue
            parts = [mask]
            if name in BILATERAL:
                x = np.arange(self.shape[2])
                parts = [mask & (x < mid)[None, None], mask & (x >= mid)[None, None]]
            boxes = []
            for part in parts:
                where = np.argwhere(part)
                if len(where):
                    boxes.append((where.min(0), where.max(0)))
            self.boxes[name] = boxes
        if self.gen is not None:
            self.counts = np.bincount(self.gen.ravel(), minlength=len(self.prior)).astype(np.float64)
        self.full = set(self.known) == set(CLASSES)
        return self


def _canonical_1mm(image: sitk.Image) -> sitk.Image:
    from weakseg.preprocess import resample_spacing, to_canonical

    image = to_canonical(image)
    if any(abs(s - 1.0) > 1e-3 for s in image.GetSpacing()):
        image = resample_spacing(image, (1.0, 1.0, 1.0), nearest=True)
    return image


def _head_box(mask: np.ndarray, margin: int = 6) -> tuple[slice, ...]:
    where = np.argwhere(mask)
    lo, hi = np.maximum(where.min(0) - margin, 0), np.minimum(where.max(0) + margin + 1, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def _compact(labels: np.ndarray, priors: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    values, inverse = np.unique(labels, return_inverse=True)
    if len(values) > 255:
        raise WeakSegError(f"label map has {len(values)} labels; at most 255 are supported")
    prior = np.array([0.0 if v == 0 else priors.get(int(v), np.nan) for v in values], np.float32)
    return inverse.reshape(labels.shape).astype(np.uint8), prior


def from_label_map(case_id: str, labels: np.ndarray, class_values: dict[str, tuple[int, ...]],
                   priors: dict[int, float], brain: np.ndarray | None) -> OARVolume:
    """An ``OARVolume`` from an integer label map (already canonical, 1 mm)."""
    box = _head_box(labels > 0)
    labels = labels[box]
    bits = np.zeros(labels.shape, np.uint8)
    for name, values in class_values.items():
        bits[np.isin(labels, values)] |= BIT[name]
    known = tuple(class_values)
    strip = None
    if brain is not None:
        brain = brain[box]
        bits[brain] |= BIT["brain"]
        known = (*known, "brain")
        from scipy import ndimage as ndi

        strip = ndi.binary_dilation(brain, iterations=2)
    gen, prior = _compact(labels, priors)
    return OARVolume(case_id, bits, known, gen, prior, strip=strip).finish()


def synthseg_volume(path: str | Path) -> OARVolume:
    """One SynthSeg training label map; brain = FreeSurfer labels 1-99 but CSF (24) and chiasm (85)."""
    image = _canonical_1mm(sitk.ReadImage(str(path)))
    labels = np.rint(sitk.GetArrayFromImage(image)).astype(np.int32)
    brain = (labels > 0) & (labels < 100) & ~np.isin(labels, (24, 85))
    name = Path(path).name.split(".")[0]
    return from_label_map(f"synthseg_{name}", labels, SYNTHSEG_CLASSES, FS_T1, brain)


def spl_volume(path: str | Path) -> OARVolume:
    """The SPL-PNL atlas label map (its cortical parcels 1000-2999 painted as one grey matter)."""
    image = _canonical_1mm(sitk.ReadImage(str(path)))
    labels = sitk.GetArrayFromImage(image).astype(np.int32)
    labels[(labels >= 1000) & (labels < 3000)] = 3  # cortical parcels: one grey-matter generation label
    return from_label_map("spl_atlas", labels, SPL_CLASSES, FS_T1, None)


def phantom_volume(seed: int) -> OARVolume:
    """A procedural OAR head at 1 mm; its tissue classes are the generation map (every class known)."""
    from weakseg.phantom.config import PhantomConfig
    from weakseg.phantom.head_oar import CLINICAL_BRAIN, LABELS, T1, head_maps

    tissue, organs, grid = head_maps(PhantomConfig(seed=seed, physiology=False))
    by_class = {}
    from weakseg.oar.label_table import LABEL_TABLE

    for entry in LABEL_TABLE:
        if entry["thesis_class"] != "brain":
            by_class.setdefault(entry["thesis_class"], []).append(entry["value"])
    # generation values: tissue 0..10, then organs that share a tissue keep it; priors = the phantom's T1 table
    priors = {i: float(v) for i, v in enumerate(T1)}
    priors[0] = 0.0
    gen_labels = tissue.astype(np.int32)
    brain = np.isin(organs, [LABELS[n] for n in CLINICAL_BRAIN])
    volume = from_label_map(f"phantom_{seed:04d}", np.where(gen_labels > 0, gen_labels, 0), {}, priors, brain)
    # class bits from the organ labelmap, cropped like the generation map
    box = _head_box(gen_labels > 0)
    bits = volume.bits
    organs = organs[box]
    for name, values in by_class.items():
        bits[np.isin(organs, values)] |= BIT[name]
    bits[np.isin(organs, [LABELS["Lens_L"], LABELS["Lens_R"]])] |= BIT["eye"]  # the lens lies in its eye
    volume.known = tuple(CLASSES)
    volume.boxes = {}
    return volume.finish()


def shared_sources(root: str | Path | None, phantoms: int = 0, synthseg: int | None = None,
                   spl: bool = True) -> list[OARVolume]:
    """The label-map sources under ``root`` (../shared/data/oar; None: none) plus ``phantoms`` phantom heads
    (seeds 1..n); ``synthseg`` caps the number of SynthSeg maps (None: all 20)."""
    volumes = []
    root = Path(root) if root else None
    maps = sorted((root / "synthseg_label_maps").glob("training_seg_*.nii.gz")) if root else []
    for path in maps[:synthseg] if synthseg is not None else maps:
        volumes.append(synthseg_volume(path))
    spl_path = root / "spl_atlas_labels" / "hncma-atlas.nrrd" if root else None
    if spl and spl_path is not None and spl_path.is_file():
        volumes.append(spl_volume(spl_path))
    volumes.extend(phantom_volume(seed) for seed in range(1, phantoms + 1))
    return volumes
