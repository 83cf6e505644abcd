"""EMReDL settings (paper 000); defaults are the paper's, the spec's §6 choices where it is silent."""

from __future__ import annotations

from dataclasses import dataclass, field

from weakseg.errors import WeakSegError
from weakseg.methods.options import Options

KINDS = ("structural", "physiological")
STRUCTURAL = (("t1", "structural"), ("t1c", "structural"), ("t2", "structural"), ("flair", "structural"))
PHYSIOLOGICAL = tuple((name, "physiological") for name in ("fa", "md", "p", "q", "rcbv", "mtt", "rcbf"))
DISSIMILARITIES = ("abs", "binary", "kl")
NORMALISATIONS = ("mean", "labelled", "regions")


@dataclass
class EMReDLConfig(Options):
    """Paper 000's two stages.

    channels: ordered [name, kind] pairs; kind 'structural' or 'physiological'. Stage A uses
      the physiological ones (all of them with ``prior_structural``); none → the structural
      ones with a loud warning (spec §6.1).
    prior_*: stage A, the evidential voxel classifier (paper: 1000 epochs, lr 1e-4, balanced
      batches of 5e4 voxels, hidden width = number of features when ``prior_hidden`` is None).
    prior_check_voxels: voxels per class (a fixed random subset) on which the balanced error that
      picks stage A's epoch is measured; None = all of them (every ROI3 voxel, every epoch).
    prior_members: stage A as an ensemble of this many independently seeded MLPs (each of width
      ``prior_hidden``), folded exactly into one network of K times the width (``prior.fold_members``).
    prior_exclude_necrosis: leave a drawn 'necrosis' mask out of stage A's ROI1 examples (the
      core stays ROI1 for stage B): dead tissue has non-tumour physiology (low rCBV, high MD),
      and teaching the prior that it is tumour raises the prior of vasogenic oedema.
    prior_context: Gaussian scales (SD in voxels) at which each prior channel's local mean inside
      the brain is added to stage A's inputs ([] = the paper's per-voxel features): the acquired
      maps are noisy voxel by voxel, the infiltration density they show is smooth.
    prior_roi1_erosion: voxels peeled off the core before stage A takes its examples: the
      coarse physiological maps mix the core's rim with the oedema next to it.
    lam: weight of the EM term (paper 1; 0 is the partial-cross-entropy baseline, same code).
    loss_normalisation: 'mean' = Jsup and Jreg each a mean over its own voxels, so an ROI2
      voxel weighs |ROI1 ∪ ROI3| / |ROI2| times an ROI1 voxel; 'labelled' = the literal eq. 7,
      one sum over every voxel with a (hard or soft) label divided by their number (spec §6.9),
      so the drawn core keeps its weight against the soft targets. Identical for λ = 0.
      'regions' (not in the paper; off by default): (mean over ROI1 + mean over ROI3 + λ·mean over
      ROI2) / (2 + λ), each region weighing the same whatever its size, so the CNN can follow the
      soft targets (as under 'mean') without the small drawn core losing its weight (as under
      'mean'); with λ = 0 it is a class-balanced PCE, not PCE's plain mean.
    dissimilarity g(prior, cnn) and kappa: gamma = [g <= kappa * vacuity] (spec §6.3–4).
    epoch_iterations: M-step batches between E-steps (None: every training slice once).
    tau: threshold of the tumour probability stored with the model (the UI's default).
    """

    OPTIONS_OF = "option(s) for method 'emredl'"

    channels: list[list[str]] = field(default_factory=lambda: [list(c) for c in STRUCTURAL + PHYSIOLOGICAL])
    prior_structural: bool = False
    prior_epochs: int = 1000
    prior_lr: float = 1e-4
    prior_batch: int = 50_000
    prior_hidden: int | None = None
    prior_patience: int = 50
    prior_check_voxels: int | None = None
    prior_members: int = 1
    prior_exclude_necrosis: bool = False
    prior_roi1_erosion: int = 0
    prior_context: list[float] = field(default_factory=list)
    binary_prior: bool = False
    base: int = 32
    depth: int = 4
    batch_size: int = 8
    lr: float = 1e-4
    lam: float = 1.0
    dissimilarity: str = "abs"
    kappa: float = 1.0
    loss_normalisation: str = "mean"
    epoch_iterations: int | None = None
    roi3_erosion: int = 0
    histogram_bins: int = 256
    tau: float = 0.5
    preset: str | None = None

    def __post_init__(self) -> None:
        self.channels = [list(c) for c in self.channels]
        names = [c[0] if c else "" for c in self.channels]
        if not self.channels or any(len(c) != 2 for c in self.channels):
            raise WeakSegError("channels must be a non-empty list of [name, kind] pairs")
        if len(set(names)) != len(names):
            raise WeakSegError(f"channel names repeat: {', '.join(names)}")
        bad = [f"{n}={k}" for n, k in self.channels if k not in KINDS]
        if bad:
            raise WeakSegError(f"channel kind must be structural or physiological, not {', '.join(bad)}")
        self.prior_context = [float(s) for s in self.prior_context]
        if any(not s > 0 for s in self.prior_context):
            raise WeakSegError(f"prior_context scales must be > 0 voxels, got {self.prior_context}")
        if self.dissimilarity not in DISSIMILARITIES:
            raise WeakSegError(f"unknown dissimilarity '{self.dissimilarity}' (expected {', '.join(DISSIMILARITIES)})")
        if self.loss_normalisation not in NORMALISATIONS:
            raise WeakSegError(f"unknown loss_normalisation '{self.loss_normalisation}' "
                               f"(expected {', '.join(NORMALISATIONS)})")
        if not 0.0 <= self.lam <= 1.0:
            raise WeakSegError(f"lam must be in [0, 1], got {self.lam}")
        if not 0.0 < self.tau < 1.0:
            raise WeakSegError(f"tau must be in (0, 1), got {self.tau}")
        if min(self.prior_epochs, self.prior_batch, self.prior_members, self.batch_size, self.base, self.depth) < 1:
            raise WeakSegError("prior_epochs, prior_batch, prior_members, batch_size, base and depth must be >= 1")

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.channels]

    @property
    def structural(self) -> list[str]:
        return [name for name, kind in self.channels if kind == "structural"]

    @property
    def physiological(self) -> list[str]:
        return [name for name, kind in self.channels if kind == "physiological"]

    @property
    def prior_channels(self) -> list[str]:
        """Stage A's inputs: the physiological channels (plus structural ones if asked), else the structural ones."""
        if self.prior_structural or not self.physiological:
            return self.names
        return self.physiological

    @property
    def prior_features(self) -> int:
        """Number of stage-A inputs: each prior channel, and its local mean at every context scale."""
        return len(self.prior_channels) * (1 + len(self.prior_context))

    @property
    def prior_fallback(self) -> bool:
        """True when stage A runs on structural channels only: not the paper's method."""
        return not self.physiological



FALLBACK_WARNING = ("EMReDL: no physiological channel (DTI/DSC) given; the prior is trained on STRUCTURAL channels. "
                    "This is NOT paper 000's method: the prior cannot see infiltration that only physiology reveals")
