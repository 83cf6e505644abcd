"""Settings of the GAN-seeds method (paper 002), one dataclass; defaults are the CPU budget.

Paper values (spec §2) and ours differ where the 2-core CPU forces it; each difference is
named here and in docs/results/gan-seeds.md:

- slices: the brain box of each axial slice is resized to fit ``size``×``size`` (64: about
  2.7 mm pixels on BraTS) instead of random 128×128 crops at 1 mm; the whole slice is then one
  tile, so the paper's tiled whole-slice inference (§2.8) is a single tile;
- networks: widths start at ``*_base`` (paper 64) and C is a 4-stage VGG-BN (paper VGG16-BN);
- iterations (batches of ``batch``) per stage instead of 100–200 epochs of 24 635 slices, with
  the paper's step-halving spread over the stage (4 halvings for the 200-epoch stages, 1 for
  the 100-epoch DCGAN); C and the segmentation models use Adam at 1e-3 (paper 5e-6 / 2e-4 over
  ~100× more steps);
- RISE: ``rise_masks`` masks (paper silent; spec suggests 4000) on an 8×8 grid, p = 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weakseg.errors import WeakSegError
from weakseg.methods.options import Options, check_known

STAGES = ("classifier", "seeds", "gan_a", "gan_b", "healthy", "s0", "refine", "s_us", "s_os")
SEQUENCE_SETS = {"flair": ("flair",), "all": ("flair", "t1", "t1c", "t2")}


@dataclass
class GanSeedsConfig(Options):
    """sequences: network input channels, FLAIR first (the GAN and the difference score use channel 0);
    ('flair',) as paper 002's pLGG cohort, ('flair', 't1', 't1c', 't2') as its BraTS one.

    min_brain: a slice is used (and segmented) when brain covers this share of the canvas.
    z_range: original axial indices kept for training (paper: 30..124 on BraTS); None: all usable.
    seed_method: 'rise' (paper) or 'gradcam' (cheaper): positive seeds from the geometric mean of the
      Grad-CAM maps of VGG stages ``gradcam_blocks`` (0-based), negative ones from stage
      ``gradcam_negative_block``; seed_high/seed_low: e > 0.8 positive, e < 0.2 negative.
    u_subset: U trains on tumour slices whose negative seed covers 'gt' > 50 % of the image (the
      paper's stated reason, "enough image remains for L_recon"; default) or 'lt' < 50 % (the literal
      text, spec §5 item 3). With our seeds 'lt' keeps 20 of 887 X_C slices (fold 0): U then
      reconstructs its own slices' negative seeds at L1 0.009 but every other slice's at 0.107, and
      |x − x̂| > ζ/ε on a third of healthy brain, which is what S0 learned to segment
      (docs/results/gan-seeds.md, second pass).
    alpha, beta, gamma: L_U weights (paper BraTS 10, 0.05, 1); delta, epsilon, zeta: L_M weights (4, 1, 0.25).
    inpaint: weight of an extra L_U term, not in the paper (0 = off, the paper's loss): a tumour slice's
      non-negative-seed region (lesion and unseeded band) is pasted onto a tumour-free slice, and U must
      give back the tumour-free slice there (L1). Without it nothing constrains U inside the band and it
      paints the band dark (docs/results/gan-seeds.md); with it U learns to fill lesion-shaped regions
      with healthy tissue, from slice labels alone (``gan.transplant_batch``).
    var_norm: 'hw' (L_var over H·W, spec §5 item 2) or 'mask' (over Σ(1−m)).
    threshold: difference-score flag threshold t (paper: 0.2; 0.3 when quality matters most).
    residual_mask: at inference keep only mask pixels where |x − x̂| > ζ/ε, the pixels L_M itself makes
      worth segmenting (not in the paper; our segmentation models blur past that target; adopted in the
      second pass, see docs/results/gan-seeds.md). The difference score still judges the unrestricted mask.
    augment: random left-right flips (applied to image, seeds and healthy variant together).
    """

    OPTIONS_OF = "option(s) for method 'gan-seeds'"

    sequences: tuple[str, ...] = ("flair",)
    size: int = 64
    min_brain: float = 0.2
    z_range: tuple[int, int] | None = None
    batch: int = 32
    classifier_base: int = 12
    classifier_upsample: float = 1.0
    gan_base: int = 16
    unet_base: int = 12
    seg_slope: float = 0.2
    nz: int = 100
    iterations_classifier: int = 600
    iterations_gan_a: int = 1500
    iterations_gan_b: int = 1500
    iterations_seg: int = 800
    lr_classifier: float = 1e-3
    lr_gan: float = 2e-4
    lr_seg: float = 1e-3
    seed_method: str = "rise"
    rise_masks: int = 500
    rise_grid: int = 8
    rise_keep: float = 0.5
    gradcam_blocks: tuple[int, ...] = (1, 3)
    gradcam_negative_block: int = 3
    seed_high: float = 0.8
    seed_low: float = 0.2
    label_smoothing: tuple[float, float] = (0.9, 0.1)
    u_subset: str = "gt"
    alpha: float = 10.0
    beta: float = 0.05
    gamma: float = 1.0
    inpaint: float = 0.0
    delta: float = 4.0
    epsilon: float = 1.0
    zeta: float = 0.25
    var_norm: str = "hw"
    refine_radii: tuple[int, ...] = (1, 2, 3, 4, 5)
    threshold: float = 0.2
    residual_mask: bool = True
    augment: bool = True
    preset: str | None = None

    def __post_init__(self) -> None:
        self.sequences = tuple(self.sequences)
        self.refine_radii = tuple(int(r) for r in self.refine_radii)
        self.gradcam_blocks = tuple(int(b) for b in self.gradcam_blocks)
        self.label_smoothing = tuple(float(v) for v in self.label_smoothing)
        if self.z_range is not None:
            self.z_range = (int(self.z_range[0]), int(self.z_range[1]))
        if not self.sequences or self.sequences[0] != "flair":
            raise WeakSegError("gan-seeds needs FLAIR as its first sequence (the GAN and the difference score use it)")
        if self.size not in (16, 32, 64, 128, 256):
            raise WeakSegError(f"size must be a power of two between 16 and 256, got {self.size}")
        if self.seed_method not in ("rise", "gradcam"):
            raise WeakSegError(f"unknown seed_method '{self.seed_method}' (expected rise or gradcam)")
        if self.u_subset not in ("lt", "gt"):
            raise WeakSegError(f"unknown u_subset '{self.u_subset}' (expected lt or gt)")
        if self.var_norm not in ("hw", "mask"):
            raise WeakSegError(f"unknown var_norm '{self.var_norm}' (expected hw or mask)")
        if not 0 < self.seed_low < self.seed_high < 1:
            raise WeakSegError("seed thresholds need 0 < seed_low < seed_high < 1")
        if self.inpaint < 0:
            raise WeakSegError(f"inpaint must be >= 0, got {self.inpaint}")
        if not 0 <= self.threshold <= 1:
            raise WeakSegError(f"threshold must be in [0, 1], got {self.threshold}")
        for name in ("batch", "iterations_classifier", "iterations_gan_a", "iterations_gan_b", "iterations_seg",
                     "rise_masks"):
            if getattr(self, name) < 1:
                raise WeakSegError(f"{name} must be >= 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GanSeedsConfig":
        check_known(cls, data, cls.OPTIONS_OF)
        data = dict(data)
        if isinstance(data.get("sequences"), str):
            data["sequences"] = SEQUENCE_SETS.get(data["sequences"], (data["sequences"],))
        return cls(**data)
