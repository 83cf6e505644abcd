"""Paper 002's slice classifier C (§2.1), a VGG-with-BN sized for the CPU budget.

The paper uses torchvision's VGG16-BN (13 convs, 4096-wide FC layers) on 128×128 slices
upsampled to 256 inside C; here ``blocks`` VGG stages of two [3×3 Conv → BN → ReLU] and a
max-pool, global average pooling and a small FC head give one logit. ``upsample`` keeps the
paper's internal bilinear upsampling as an option (it improved the seeds, not the AUC).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class SliceClassifierConfig:
    in_channels: int = 1
    base: int = 12
    blocks: int = 4
    hidden: int = 64
    upsample: float = 1.0

    def __post_init__(self) -> None:
        if min(self.in_channels, self.base, self.blocks, self.hidden) < 1 or self.upsample < 1:
            raise ValueError(f"invalid classifier configuration {self}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SliceClassifierConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class SliceClassifier(nn.Module):
    """``forward(x) -> logits (B,)``; ``probability(x)`` is the sigmoid (p > 0.5: tumour on the slice)."""

    def __init__(self, config: SliceClassifierConfig):
        super().__init__()
        self.config = config
        layers, cin = [], config.in_channels
        for i in range(config.blocks):
            c = config.base * 2 ** i
            for _ in range(2):
                layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
                cin = c
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(cin, config.hidden), nn.ReLU(inplace=True), nn.Dropout(0.3),
                                  nn.Linear(config.hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.with_features(x, None)[0]

    def with_features(self, x: torch.Tensor, block: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits, feature map of VGG stage ``block`` before its pooling, gradient retained) for Grad-CAM."""
        if self.config.upsample != 1:
            x = F.interpolate(x, scale_factor=self.config.upsample, mode="bilinear", align_corners=False)
        kept, stage = None, 0
        for layer in self.features:
            if isinstance(layer, nn.MaxPool2d):
                if stage == block:
                    kept = x
                    kept.retain_grad()
                stage += 1
            x = layer(x)
        return self.head(x.mean((2, 3))).squeeze(1), kept

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward(x))


NETWORK = ("slice-classifier", SliceClassifier, SliceClassifierConfig)
