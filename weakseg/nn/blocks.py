"""Building blocks shared by the 2D networks (paper 001's conv/BN/ReLU, up-step, branch).

Kept apart from the networks so later methods (3D nets, OAR nets) reuse the same
initialisation and block definitions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(cin: int, cout: int, kernel: int = 3, padding: int = 1, relu: bool = True) -> nn.Sequential:
    """Conv → BN (→ ReLU). Paper 001 puts BN after every conv except the segmentation head."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, padding=padding), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def double_conv(cin: int, cout: int, padding: int) -> nn.Sequential:
    return nn.Sequential(conv_bn(cin, cout, 3, padding), conv_bn(cout, cout, 3, padding))


class UpStep(nn.Module):
    """Bilinear ×2, then a 2×2 conv + BN without ReLU (as in the authors' code).

    In same-padding mode the 2×2 conv is padded by one pixel on the right and bottom,
    so the output is exactly twice the input size (PyTorch's padding='same' would copy
    the input for even kernels).
    """

    def __init__(self, cin: int, cout: int, same_padding: bool):
        super().__init__()
        self.same_padding = same_padding
        self.conv = nn.Conv2d(cin, cout, 2)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.same_padding:
            x = F.pad(x, (0, 1, 0, 1))
        return self.bn(self.conv(x))


class ClassificationBranch(nn.Module):
    """Paper 001's image-level branch for one class: conv 3×3 (32) → 7 FC, FC1 output joined to FC5's.

    Input is the shared mean-pooled map (C × pool × pool); output is 2 logits (absent, present).
    ``widths`` are FC1..FC5 (paper code: 300, 250, 200, 150, 100); FC6 has ``fc6`` units.
    """

    def __init__(self, cin: int, pool: int = 13, conv_channels: int = 32,
                 widths: tuple[int, ...] = (300, 250, 200, 150, 100), fc6: int = 50):
        super().__init__()
        self.conv = conv_bn(cin, conv_channels, 3, padding=0)
        dims = [conv_channels * (pool - 2) ** 2, *widths]
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.fc6 = nn.Linear(widths[0] + widths[-1], fc6)
        self.fc7 = nn.Linear(fc6, 2)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        h = self.conv(pooled).flatten(1)
        h1 = h = F.relu(self.fc[0](h))
        for fc in self.fc[1:]:
            h = F.relu(fc(h))
        return self.fc7(F.relu(self.fc6(torch.cat([h1, h], 1))))


def he_init(module: nn.Module) -> None:
    """He-normal weights (std sqrt(2/fan_in), sqrt(1/fan_in) before no ReLU), zero biases, BN γ=1 β=0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)):
            fan_in = m.weight[0].numel()
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_in))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop the last two axes to ``size`` around the centre (valid-padding skips)."""
    h, w = x.shape[-2:]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    return x[..., top:top + size[0], left:left + size[1]]
