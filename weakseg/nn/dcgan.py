"""DCGAN building blocks of paper 002 (§2.3): the generator G and the discriminator-shaped encoder.

Not a network on its own (no ``NETWORK``): ``gan_pair`` and ``gan_unet`` assemble these.
Sizes follow the DCGAN defaults (kernel 4, stride 2, padding 1) for any power-of-two image
side ``size`` ≥ 16: the paper's 128 gives 6 blocks; the CPU budget's 64 gives 5. Widths
double per block from ``base`` (paper 64, capped at ``8·base`` = 1024 there).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def levels(size: int) -> int:
    """Stride-2 blocks between ``size`` and 4×4 (128 → 5, 64 → 4, 32 → 3)."""
    n = int(round(math.log2(size))) - 2
    if 2 ** (n + 2) != size or n < 1:
        raise ValueError(f"image side must be a power of two >= 8, got {size}")
    return n


def widths(size: int, base: int) -> list[int]:
    """Channels after each stride-2 encoder block (the decoder uses them in reverse)."""
    return [base * 2 ** min(i, 4) for i in range(levels(size))]


class Encoder(nn.Module):
    """D's blocks: [Conv → BN → LeakyReLU(0.2)] down to 4×4 (no BN on the first), then a 4×4 conv to ``out``.

    ``forward`` returns (head output (B, out, 1, 1), features at sizes S/2 … 4).
    """

    def __init__(self, size: int, in_channels: int, base: int, out: int):
        super().__init__()
        chans = widths(size, base)
        blocks, cin = [], in_channels
        for i, c in enumerate(chans):
            layers = [nn.Conv2d(cin, c, 4, 2, 1, bias=i == 0)]
            if i:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            blocks.append(nn.Sequential(*layers))
            cin = c
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, out, 4, 1, 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return self.head(x), feats


class Discriminator(nn.Module):
    """D0/D1: the encoder with a scalar head and a sigmoid (probability that the image is real)."""

    def __init__(self, size: int, in_channels: int, base: int):
        super().__init__()
        self.encoder = Encoder(size, in_channels, base, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.encoder(x)[0].flatten(1))


class Generator(nn.Module):
    """G: [ConvTranspose → BN → ReLU] from a (B, nz, 1, 1) latent up to ``size``; the last block has
    no BN and a sigmoid, so images lie in [0, 1] like the min-max-scaled inputs."""

    def __init__(self, size: int, out_channels: int, base: int, nz: int, slope: float = 0.0):
        super().__init__()
        chans = widths(size, base)[::-1]
        act = lambda: nn.LeakyReLU(slope, inplace=True) if slope else nn.ReLU(inplace=True)  # noqa: E731
        blocks = [nn.Sequential(nn.ConvTranspose2d(nz, chans[0], 4, 1, 0, bias=False), nn.BatchNorm2d(chans[0]), act())]
        for cin, cout in zip(chans, chans[1:]):
            blocks.append(nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), act()))
        blocks.append(nn.Sequential(nn.ConvTranspose2d(chans[-1], out_channels, 4, 2, 1), nn.Sigmoid()))
        self.blocks = nn.ModuleList(blocks)
        self.chans = chans

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            z = block(z)
        return z


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights N(0, 0.02), BN weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
