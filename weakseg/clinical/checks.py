"""Is this case what the model was trained on? Checks from the images and the card's ``expects``.

A model card says what its inputs looked like (``expects``): voxel size, skull stripping,
co-registration. Each check here measures the case and returns a ``Problem`` when it does
not match, saying which preprocessing step fixes it — or that nothing can (a single slice, no
overlap, a constant image). ``weakseg segment`` runs the fixing steps (``--preprocess auto``)
or refuses with the problems in one line (``--preprocess none``); it never segments an unfit
case silently.

Skull stripping is judged from the head's foreground volume: BraTS-style skull-stripped
images hold a brain (about 1.0-1.8 l with the tumour) on an exactly-zero background; a head
with scalp, skull and face has 2.5-5 l of tissue above the air threshold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk
from skimage.filters import threshold_otsu

from weakseg.io.image import same_grid
from weakseg.io.overlap import coverage_fraction


@dataclass(frozen=True)
class Expects:
    """What a model's training images looked like (the card's ``expects`` block)."""

    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    spacing_tolerance_mm: float = 0.3
    skull_stripped: bool = True
    co_registered: bool = True
    max_foreground_ml: float = 2200.0
    min_slices: int = 16  # fewer than a quarter of this along any axis: a scout, not a volume

    @classmethod
    def from_card(cls, card) -> "Expects":
        data = dict(getattr(card, "expects", None) or {})
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "spacing_mm" in known:
            known["spacing_mm"] = tuple(float(v) for v in known["spacing_mm"])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Problem:
    """``step``: the preprocessing step that fixes it ('register', 'resample', 'brain'), or None: unfixable."""

    check: str
    message: str
    step: str | None
    where: str = ""


@dataclass
class Fitness:
    problems: list[Problem] = field(default_factory=list)
    measures: dict[str, Any] = field(default_factory=dict)

    @property
    def fit(self) -> bool:
        return not self.problems

    @property
    def fixable(self) -> bool:
        return all(p.step is not None for p in self.problems)

    def steps(self) -> set[str]:
        return {p.step for p in self.problems if p.step}

    def summary(self) -> str:
        return "; ".join(f"{p.where + ': ' if p.where else ''}{p.message}" for p in self.problems)


def foreground_ml(image: sitk.Image) -> float:
    """Volume above the Otsu threshold between air and tissue (ml)."""
    arr = sitk.GetArrayViewFromImage(image)
    sample = arr[:: max(1, arr.shape[0] // 32), ::2, ::2].astype(np.float32)
    if float(sample.max()) <= float(sample.min()):
        return 0.0
    threshold = threshold_otsu(sample)
    voxel_ml = float(np.prod(image.GetSpacing())) / 1000.0
    return float((arr > threshold).sum()) * voxel_ml


def zero_background_fraction(image: sitk.Image) -> float:
    arr = sitk.GetArrayViewFromImage(image)
    return float((arr == arr.min()).mean())


def assess(case, expects: Expects) -> Fitness:
    """Every check on every sequence of ``case`` (originals as read, before any resampling)."""
    fitness = Fitness()
    originals = getattr(case, "originals", None) or case.images
    ref_name = case.reference
    ref = originals[ref_name]
    for name, image in originals.items():
        where = str(case.sources.get(name, name))
        arr = sitk.GetArrayViewFromImage(image)
        size = image.GetSize()
        fitness.measures[name] = {"size": list(size), "spacing_mm": [round(s, 3) for s in image.GetSpacing()]}
        if min(size[:3]) < expects.min_slices // 4:
            fitness.problems.append(Problem("slices", f"{name} has only {min(size)} slice(s): a scout or 2D image, "
                                            "not a volume", None, where))
            continue
        if float(arr.max()) <= float(arr.min()):
            fitness.problems.append(Problem("intensity", f"{name} is constant ({float(arr.min()):g})", None, where))
            continue
        spacing = np.array(image.GetSpacing())
        off = np.abs(spacing - np.array(expects.spacing_mm)).max()
        if off > expects.spacing_tolerance_mm:
            fitness.problems.append(Problem("spacing", f"{name} voxels are {' x '.join(f'{s:.2g}' for s in spacing)} mm, the "
                                            f"model expects {' x '.join(f'{s:g}' for s in expects.spacing_mm)} mm",
                                            "resample", where))
        if name != ref_name and expects.co_registered and not same_grid(image, ref):
            cover = coverage_fraction(ref, image)
            fitness.measures[name]["coverage_of_reference"] = round(cover, 3)
            if cover < 0.3:
                fitness.problems.append(Problem("overlap", f"{name} covers only {cover:.0%} of the {ref_name} volume: "
                                                "not the same head region", None, where))
            else:
                fitness.problems.append(Problem("registration", f"{name} is not on the {ref_name} grid (not "
                                                "co-registered)", "register", where))
    if expects.skull_stripped and not any(p.step is None for p in fitness.problems):
        volume = foreground_ml(ref)
        zeros = zero_background_fraction(ref)
        fitness.measures["foreground_ml"] = round(volume, 1)
        fitness.measures["zero_background_fraction"] = round(zeros, 3)
        if volume > expects.max_foreground_ml or zeros < 0.05:
            fitness.problems.append(Problem("skull", f"{ref_name} shows {volume / 1000:.1f} l of tissue on a "
                                            f"{'non-zero' if zeros < 0.05 else 'zero'} background: skull and scalp are "
                                            "present, the model expects a skull-stripped brain", "brain",
                                            str(case.sources.get(ref_name, ref_name))))
    return fitness


__all__ = ["Expects", "Problem", "Fitness", "assess", "foreground_ml"]
