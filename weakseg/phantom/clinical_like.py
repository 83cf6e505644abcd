"""Undo BraTS preprocessing: make a co-registered 1 mm case look like series from a scanner.

Each sequence gets its own random rigid motion (the patient moves between series) and is
re-sampled as thick slices (partial volume along the slice axis, as a 2D acquisition gives);
the reference keeps its position so the expert labels stay valid on it. The true motion is
returned, so a registration can be scored in millimetres. Used by the clinical-input tests
and ``benchmarks/bench_clinical_input.py``; BraTS images stay skull-stripped (no skull can be
invented), so brain extraction is tested separately.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk


@dataclass(frozen=True)
class DegradeConfig:
    max_rotation_deg: float = 8.0
    max_shift_mm: float = 8.0
    slice_mm: float = 5.0
    seed: int = 0


def thick_slices(image: sitk.Image, slice_mm: float) -> sitk.Image:
    """``image`` as slices ``slice_mm`` apart along its third axis, each averaging its slab."""
    spacing = image.GetSpacing()
    smooth = sitk.DiscreteGaussian(sitk.Cast(image, sitk.sitkFloat32), [0.0, 0.0, (slice_mm / 2.355) ** 2], 64, 0.01, True)
    size = list(image.GetSize())
    n = max(2, int(np.floor(size[2] * spacing[2] / slice_mm)))
    origin = image.TransformContinuousIndexToPhysicalPoint((0, 0, (slice_mm / spacing[2] - 1) / 2))
    out = sitk.Resample(smooth, [size[0], size[1], n], sitk.Transform(), sitk.sitkLinear, origin,
                        (spacing[0], spacing[1], slice_mm), image.GetDirection(), 0.0, sitk.sitkFloat32)
    return sitk.Cast(sitk.Round(out), image.GetPixelID()) if image.GetPixelID() != sitk.sitkFloat32 else out


def random_motion(image: sitk.Image, config: DegradeConfig, rng: np.random.Generator) -> sitk.Euler3DTransform:
    centre = image.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in image.GetSize()])
    transform = sitk.Euler3DTransform()
    transform.SetCenter(centre)
    angles = np.deg2rad(rng.uniform(-config.max_rotation_deg, config.max_rotation_deg, 3))
    transform.SetRotation(*angles)
    transform.SetTranslation(tuple(rng.uniform(-config.max_shift_mm, config.max_shift_mm, 3)))
    return transform


def moved(image: sitk.Image, motion: sitk.Transform) -> sitk.Image:
    """The head moved by ``motion``: the new series' grid is the old one carried along with the head.

    A point p of the new grid shows the anatomy at ``motion(p)`` of the old image, so a
    registration onto the old frame (fixed → moving points) should find ``motion``'s inverse."""
    grid = sitk.Image(image.GetSize(), image.GetPixelID())
    inverse = motion.GetInverse()
    direction = np.array(image.GetDirection()).reshape(3, 3)
    rotation = np.array(inverse.GetMatrix()).reshape(3, 3)
    grid.SetDirection(tuple((rotation @ direction).ravel()))
    grid.SetSpacing(image.GetSpacing())
    grid.SetOrigin(inverse.TransformPoint(image.GetOrigin()))
    return sitk.Resample(image, grid, motion, sitk.sitkBSpline, 0.0, image.GetPixelID())


def degrade_case(images: dict[str, sitk.Image], reference: str, config: DegradeConfig = DegradeConfig()
                 ) -> tuple[dict[str, sitk.Image], dict[str, sitk.Transform]]:
    """(clinical-like images, true motion per moved sequence); the reference only gets thick slices."""
    rng = np.random.default_rng(config.seed)
    out, motions = {}, {}
    for name in sorted(images):
        image = images[name]
        if name != reference:
            motions[name] = random_motion(image, config, rng)
            image = moved(image, motions[name])
        out[name] = thick_slices(image, config.slice_mm)
    return out, motions


__all__ = ["DegradeConfig", "degrade_case", "thick_slices", "moved", "random_motion"]
