"""What a phantom is made from (``PhantomConfig``) and what it yields (``PhantomCase``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import SimpleITK as sitk

SIZES: dict[str, tuple[tuple[int, int, int], float]] = {
    # name: (shape z, y, x), spacing (mm). Every preset covers a BraTS-like field of view
    # (about 240 x 240 x 155 mm), so organ and tumour sizes stay physically plausible.
    "tiny": ((32, 48, 48), 5.0),
    "small": ((78, 120, 120), 2.0),
    "brats": ((155, 240, 240), 1.0),
}
"""Named sizes for the CLI and benchmarks."""

TEMPLATES = ("none", "mni152")


@dataclass(frozen=True)
class PhantomConfig:
    """Everything a phantom depends on; the same config always gives the same voxels.

    ``shape`` is (z, y, x) like every array in the engine; ``spacing`` is in mm, one value
    or (x, y, z) as SimpleITK orders it. Anatomy scales with the field of view
    (shape × spacing), so a tiny grid holds a small but complete head or brain.
    ``template="mni152"`` builds the tumour case on nilearn's MNI152 brain instead of the
    procedural one; its field of view is always BraTS's 240 × 240 × 155 mm, ``shape`` sets the
    number of voxels and the spacing follows (the default shape gives the BraTS 1 mm grid).
    """

    seed: int = 0
    shape: tuple[int, int, int] = (155, 240, 240)
    spacing: float | tuple[float, float, float] = 1.0
    template: str = "none"
    case_id: str | None = None
    noise: float = 0.025
    """Rician noise sigma as a fraction of the white-matter intensity."""
    bias: float = 0.12
    """Amplitude of the smooth multiplicative bias field (log scale)."""
    physiology: bool = True
    """Also make the physiological maps (paper 000); off saves a few seconds at BraTS size."""
    physiology_blur: float = 3.0
    """FWHM (mm, at adult-head scale) of the blur that gives physiological maps DTI/DSC resolution;
    it scales with the field of view like the anatomy does."""

    @classmethod
    def preset(cls, size: str, **kwargs) -> "PhantomConfig":
        """A config with one of the named ``SIZES`` (tiny, small, brats)."""
        if size not in SIZES:
            raise ValueError(f"unknown phantom size '{size}' (expected one of {', '.join(SIZES)})")
        shape, spacing = SIZES[size]
        return cls(shape=shape, spacing=spacing, **kwargs)

    @property
    def spacing_xyz(self) -> tuple[float, float, float]:
        s = self.spacing
        return (float(s),) * 3 if np.isscalar(s) else tuple(float(v) for v in s)  # type: ignore[return-value]

    @property
    def identifier(self) -> str:
        return self.case_id or f"Phantom_{self.seed:04d}"

    def with_(self, **changes) -> "PhantomConfig":
        return replace(self, **changes)


@dataclass
class PhantomCase:
    """A synthetic case with its ground truth, every volume on one LPS grid.

    - ``images``: MRI sequences by canonical name (t1, t1c, t2, flair; a head has t1, t2), int16.
    - ``labels``: BraTS 2018 labels (1 necrosis, 2 edema, 4 enhancing) for a tumour case, the
      OAR labelmap (values in ``label_table``) for a head, uint8.
    - ``infiltration``: tumour-cell density in [0, 1] (1 inside the enhancing margin); float32.
      ``infiltrated_mask`` thresholds it inside the edema: paper 000's hidden ground truth.
    - ``physiology``: rcbv, mtt, rcbf, fa, md, p, q (float32), consistent with the infiltration.
    - ``brain_mask``: uint8, 1 in the brain.
    """

    case_id: str
    kind: str
    images: dict[str, sitk.Image]
    labels: sitk.Image
    brain_mask: sitk.Image
    config: PhantomConfig
    infiltration: sitk.Image | None = None
    physiology: dict[str, sitk.Image] = field(default_factory=dict)
    label_table: list[dict] | None = None
    tissue: sitk.Image | None = None
    """uint8 dominant normal tissue per voxel: 0 outside, 1 CSF, 2 grey matter, 3 white matter."""

    @property
    def grid(self) -> sitk.Image:
        return self.labels

    def array(self, name: str) -> np.ndarray:
        """A (z, y, x) view of a sequence, a physiological map, 'labels', 'infiltration', 'brain_mask' or 'tissue'."""
        if name in self.images:
            image = self.images[name]
        elif name in self.physiology:
            image = self.physiology[name]
        else:
            image = {"labels": self.labels, "infiltration": self.infiltration, "brain_mask": self.brain_mask,
                     "tissue": self.tissue}.get(name)
        if image is None:
            raise KeyError(name)
        return sitk.GetArrayViewFromImage(image)

    @property
    def infiltrated_mask(self) -> np.ndarray:
        """Edema voxels with tumour-cell density >= 0.5: infiltrated, not vasogenic, edema."""
        if self.infiltration is None:
            raise ValueError("this phantom has no infiltration map")
        return (self.array("labels") == 2) & (self.array("infiltration") >= 0.5)
