"""A 2D U-Net with one binary segmentation head per class (thesis ch. 4, organs at risk).

The classes overlap (a lens voxel is also an eye voxel, the brainstem lies in the brain),
so each class gets its own 2-map softmax head on the second-to-last layer; a 2-map softmax
is a sigmoid of (l1 - l0), so the network returns that difference, one map per class, and
``predict_slices(..., activation="sigmoid")`` gives per-class probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.nn.unet2d import UNet2D, UNet2DConfig


@dataclass(frozen=True)
class MultiHeadUNet2DConfig:
    """in_channels: MR channels; heads: one per class; base/depth as in ``UNet2DConfig`` (same padding)."""

    in_channels: int = 1
    heads: int = 8
    base: int = 16
    depth: int = 4

    def __post_init__(self) -> None:
        if self.heads < 1 or self.in_channels < 1 or self.base < 1 or self.depth < 1:
            raise WeakSegError(f"invalid multi-head U-Net configuration {self}")

    @property
    def multiple(self) -> int:
        return 2 ** self.depth

    @property
    def same_padding(self) -> bool:
        return True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MultiHeadUNet2DConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class MultiHeadUNet2D(nn.Module):
    """``forward(x) -> (logits [N, heads, H, W], [])``: logit of 'class present' per head (no branches)."""

    def __init__(self, config: MultiHeadUNet2DConfig):
        super().__init__()
        self.config = config
        self.trunk = UNet2D(UNet2DConfig(config.in_channels, 2, config.base, config.depth, True, branches=0))
        self.trunk.seg_head = nn.Conv2d(config.base, 2 * config.heads, 1)  # [heads, 2] maps, read as l1 - l0
        nn.init.normal_(self.trunk.seg_head.weight, 0.0, (1.0 / config.base) ** 0.5)
        nn.init.zeros_(self.trunk.seg_head.bias)

    def forward(self, x: torch.Tensor, n_seg: int | None = None, with_branches: bool = True):
        maps = self.trunk.seg_head(self.trunk.features(x if n_seg is None else x[:n_seg]))
        n, _, h, w = maps.shape
        pairs = maps.view(n, self.config.heads, 2, h, w)
        return pairs[:, :, 1] - pairs[:, :, 0], []


NETWORK = ("multihead_unet2d", MultiHeadUNet2D, MultiHeadUNet2DConfig)
