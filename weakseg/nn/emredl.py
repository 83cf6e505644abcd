"""Paper 000 (EMReDL): the evidential voxel classifier (stage A) and the U-Net (stage B) in one module.

Both live in one network so a model is one safetensors file, sealed by one card: the U-Net
makes the tumour probability, the evidential prior (``prior``) gives the prior map and its
vacuity for inspection. ``forward`` is the U-Net's, so the shared slice engine runs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.nn.unet2d import UNet2D, UNet2DConfig


class EvidentialMLP(nn.Module):
    """d -> hidden -> hidden -> 2, ReLU on every layer: the output is evidence; returns alpha = e + 1 (Beta)."""

    def __init__(self, features: int, hidden: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                    nn.Linear(hidden, 2), nn.ReLU())
        for layer in self.layers:  # start every ReLU alive: a unit dead from the start never learns (no evidence)
            if isinstance(layer, nn.Linear):
                nn.init.constant_(layer.bias, 0.1)
        nn.init.constant_(self.layers[-2].bias, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x) + 1.0


@dataclass(frozen=True)
class EMReDLNetConfig:
    """unet: the UNet2D config (2 classes, no branches); prior_features: stage-A inputs; prior_hidden: their width."""

    unet: dict = field(default_factory=dict)
    prior_features: int = 7
    prior_hidden: int = 7

    def __post_init__(self) -> None:
        if self.prior_features < 1 or self.prior_hidden < 1:
            raise WeakSegError(f"invalid evidential prior size {self.prior_features} -> {self.prior_hidden}")

    @property
    def unet_config(self) -> UNet2DConfig:
        return UNet2DConfig.from_dict(self.unet)

    @property
    def same_padding(self) -> bool:
        return self.unet_config.same_padding

    @property
    def multiple(self) -> int:
        return self.unet_config.multiple

    @property
    def depth(self) -> int:
        return self.unet_config.depth

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EMReDLNetConfig":
        return cls(dict(d.get("unet", {})), int(d.get("prior_features", 7)), int(d.get("prior_hidden", 7)))


class EMReDLNet(nn.Module):
    """``forward(x)`` -> (2-class U-Net logits, []); ``prior(features)`` -> Beta parameters (N, 2)."""

    def __init__(self, config: EMReDLNetConfig):
        super().__init__()
        self.config = config
        unet = config.unet_config
        if unet.n_classes != 2 or unet.branches:
            raise WeakSegError("the EMReDL U-Net has 2 classes and no classification branch")
        self.unet = UNet2D(unet)
        self.prior = EvidentialMLP(config.prior_features, config.prior_hidden)

    def forward(self, x: torch.Tensor, n_seg: int | None = None, with_branches: bool = True):
        return self.unet(x, n_seg=n_seg, with_branches=False)


NETWORK = ("emredl", EMReDLNet, EMReDLNetConfig)
