"""Options of the 2D-3D method (and of the standard 3D baseline, which has no orientations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weakseg.errors import WeakSegError
from weakseg.methods.options import Options, check_known
from weakseg.nn.cascade2d3d import ORIENTATION_AXES, Cascade2D3DConfig
from weakseg.training.data import DataConfig

OPTIMIZERS = ("adamw", "ngsgd")
SCHEDULES = (None, "plateau", "cosine", "none")
PRETRAIN = ("auto", "on", "off")


@dataclass
class Tumour2D3DConfig(Options):
    """Thesis ch. 2 settings; network sizes default to CPU-sized ones (thesis: sub_width 32, base 64,
    widths3d 32/64/128).

    orientations: one 2D network each ('axial', 'coronal', 'sagittal'); () = standard 3D baseline.
    subnet: 'unet' (2D model 1) or 'conv3' (2D model 2); features_at: 'input' (model A) or 'late' (B).
    iterations_2d / iterations_3d / iterations_pretrain: per stage (None: the run's ``iterations``).
    pretrain: subnetwork pretraining per sequence on every case having it (spec §2.6): 'auto' = when
      some training case lacks a sequence, 'on', 'off'; freeze_pretrained keeps those weights fixed
      when the whole network is then trained on the complete cases (default: fine-tune).
    oof_folds: 0 = 3D features of training cases from 2D networks trained on them (the thesis);
      k ≥ 2 = out-of-fold features from k extra 2D trainings per orientation (spec §8 #6).
    slices_per_batch / patches_per_batch: 2D slices and 3D patches per batch; tumour_fraction: share
      centred on tumour; patch: 3D training input side (output side patch − 40); tile: largest inference window side.
    optimizer: 'adamw' or the thesis's 'ngsgd' (normalised-gradient SGD summed over 10 batches in 2D
      and 5 in 3D unless batches_per_iteration_* say otherwise; plateau halving, F = 200, d = 0.98).
    class_weights_2d / _3d: the thesis's adaptive cross-entropy targets, used when the recipe loss is
      'weighted_ce' (or recipe is None); main_weight / aux_weight: 0.75 · main + 0.05 · each auxiliary.
    recipe: the shared ``RecipeConfig`` options ({} = its defaults); None = the thesis's own recipe
      (weighted cross-entropy, 30 % left-right flips, no post-processing).
    stage: internal: which training stage these options drive (set by ``train``).
    """

    sequences: tuple[str, ...] = ("flair", "t1", "t1c", "t2")
    orientations: tuple[str, ...] = tuple(ORIENTATION_AXES)
    subnet: str = "unet"
    sub_width: int = 8
    base: int = 16
    depth: int = 4
    widths3d: tuple[int, int, int] = (8, 16, 32)
    norm3d: str = "none"
    upsample3d: str = "nearest"
    features_at: str = "input"
    patch: int = 70
    tile: int = 126
    iterations_2d: int | None = None
    iterations_3d: int | None = None
    iterations_pretrain: int | None = None
    pretrain: str = "auto"
    freeze_pretrained: bool = False
    oof_folds: int = 0
    slices_per_batch: int = 10
    patches_per_batch: int = 2
    tumour_fraction: float = 0.5
    max_redraws: int = 30
    optimizer: str = "adamw"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batches_per_iteration_2d: int | None = None
    batches_per_iteration_3d: int | None = None
    schedule: str | None = None
    plateau_every: int = 200
    min_lr: float = 1e-3
    class_weights_2d: tuple[float, ...] = (0.7, 0.1, 0.1, 0.1)
    class_weights_3d: tuple[float, ...] = (0.4, 0.2, 0.2, 0.2)
    main_weight: float = 0.75
    aux_weight: float = 0.05
    flip_fraction: float = 0.3
    normalisation: str = "zscore"
    margin: int = 0
    inplane_downsample: int = 1
    brain_fraction: float = 0.05
    recipe: dict[str, Any] | None = field(default_factory=dict)
    preset: str | None = None
    stage: str = "3d"

    def __post_init__(self) -> None:
        from weakseg.methods.recipe import RecipeConfig

        self.sequences = tuple(self.sequences)
        self.orientations = tuple(self.orientations)
        self.widths3d = tuple(int(w) for w in self.widths3d)
        self.class_weights_2d = tuple(float(t) for t in self.class_weights_2d)
        self.class_weights_3d = tuple(float(t) for t in self.class_weights_3d)
        if self.recipe is not None:  # stored resolved, so the card and resume see every recipe setting
            self.recipe = RecipeConfig.from_dict(dict(self.recipe)).to_dict()
        if not self.sequences or len(set(self.sequences)) != len(self.sequences):
            raise WeakSegError("sequences must be distinct and not empty")
        if self.optimizer not in OPTIMIZERS:
            raise WeakSegError(f"unknown optimizer '{self.optimizer}' (expected {' or '.join(OPTIMIZERS)})")
        if self.schedule not in SCHEDULES:
            raise WeakSegError(f"unknown schedule '{self.schedule}' (expected plateau, cosine or none)")
        if self.pretrain not in PRETRAIN:
            raise WeakSegError(f"unknown pretrain '{self.pretrain}' (expected auto, on or off)")
        if self.oof_folds == 1 or self.oof_folds < 0:
            raise WeakSegError("oof_folds must be 0 (in-sample features) or at least 2")
        if min(self.slices_per_batch, self.patches_per_batch) < 1:
            raise WeakSegError("slices_per_batch and patches_per_batch must be >= 1")
        if len(self.class_weights_2d) != self.n_classes or len(self.class_weights_3d) != self.n_classes:
            raise WeakSegError(f"class weights need {self.n_classes} values")
        for name in ("iterations_2d", "iterations_3d", "iterations_pretrain"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise WeakSegError(f"{name} must be >= 1")
        self.network_config()  # validates every network option

    # --- derived settings -----------------------------------------------------------------------------
    n_classes = 4

    @property
    def recipe_config(self):
        from weakseg.methods.recipe import RecipeConfig

        return RecipeConfig.from_dict(self.recipe) if self.recipe is not None else None

    @property
    def regions(self) -> bool:
        return self.recipe is not None and self.recipe["output"] == "regions"

    @property
    def out_channels(self) -> int:
        return 3 if self.regions else self.n_classes

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (0.25 if self.optimizer == "ngsgd" else 1e-3)

    @property
    def lr_schedule(self) -> str:
        return self.schedule or ("plateau" if self.optimizer == "ngsgd" else "cosine")

    def per_iteration(self, stage_kind: str) -> int:
        given = self.batches_per_iteration_3d if stage_kind == "3d" else self.batches_per_iteration_2d
        return given or ((5 if stage_kind == "3d" else 10) if self.optimizer == "ngsgd" else 1)

    def network_config(self) -> Cascade2D3DConfig:
        net2d = {"n_classes": self.out_channels, "subnet": self.subnet, "sub_width": self.sub_width,
                 "base": self.base, "depth": self.depth}
        net3d = {"n_classes": self.out_channels, "widths": list(self.widths3d), "norm": self.norm3d,
                 "upsample": self.upsample3d}
        return Cascade2D3DConfig(len(self.sequences), self.orientations, net2d, net3d, self.features_at,
                                 self.inplane_downsample, self.tile)

    def data_config(self, sequences: tuple[str, ...] | None = None) -> DataConfig:
        return DataConfig(tuple(sequences or self.sequences), self.normalisation, self.margin, 100.0,
                          self.inplane_downsample, self.brain_fraction)

    @classmethod
    def from_dict(cls, data: dict[str, Any], method: str = "tumour-2d3d") -> "Tumour2D3DConfig":
        check_known(cls, data, f"option(s) for method '{method}'")
        return cls(**data)
