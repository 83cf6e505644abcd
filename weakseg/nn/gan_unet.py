"""Paper 002's U-Net (§2.4): the D-shaped encoder E, the DCGAN generator G as decoder, and skips.

Each skip is two [3×3 Conv → ReLU] blocks: the first maps the encoder feature, its output is
concatenated with the decoder feature and the second merges them before the next G block.
The converter U (FLAIR → healthy FLAIR) and the segmentation models S0, S_US, S_OS all use it
(the latter with their own channels and fresh weights). ``identity_skips`` starts the merge
conv as the identity on the decoder channels, so U equals G∘E at first and the pre-trained G
keeps its meaning (spec §5 item 6, an option the paper does not state). ``slope`` > 0 uses
LeakyReLU in the decoder and skips: with plain ReLU features a segmentation head whose weights
all turned negative can never exceed sigmoid(bias) (S0 on BraTS stalled at m = 0.496 < 0.5).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from weakseg.nn.dcgan import Encoder, Generator, dcgan_init, levels


@dataclass(frozen=True)
class GanUNetConfig:
    size: int = 64
    in_channels: int = 1
    out_channels: int = 1
    base: int = 16
    nz: int = 100
    identity_skips: bool = True
    slope: float = 0.0

    def __post_init__(self) -> None:
        levels(self.size)
        if min(self.in_channels, self.out_channels, self.base, self.nz) < 1:
            raise ValueError(f"invalid GanUNet configuration {self}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GanUNetConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class GanUNet(nn.Module):
    """``forward(x) -> (image or mask in [0, 1], z_hat (B, nz))``."""

    def __init__(self, config: GanUNetConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoder = Encoder(c.size, c.in_channels, c.base, c.nz)
        self.decoder = Generator(c.size, c.out_channels, c.base, c.nz, c.slope)
        enc = [b[0].out_channels for b in self.encoder.blocks][::-1]  # 4×4 first, like the decoder
        self.skip_in = nn.ModuleList(nn.Conv2d(e, d, 3, padding=1) for e, d in zip(enc, self.decoder.chans))
        self.skip_merge = nn.ModuleList(nn.Conv2d(2 * d, d, 3, padding=1) for d in self.decoder.chans)
        dcgan_init(self)
        if c.identity_skips:
            with torch.no_grad():
                for conv in self.skip_merge:
                    d = conv.out_channels
                    conv.weight.zero_()
                    conv.bias.zero_()
                    conv.weight[torch.arange(d), d + torch.arange(d), 1, 1] = 1.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, feats = self.encoder(x)
        h = self.decoder.blocks[0](z)
        for feat, skip, merge, block in zip(feats[::-1], self.skip_in, self.skip_merge, self.decoder.blocks[1:]):
            a = F.leaky_relu(skip(feat), self.config.slope)
            h = F.leaky_relu(merge(torch.cat([a, h], 1)), self.config.slope)
            h = block(h)
        return h, z.flatten(1)


NETWORK = ("gan-unet", GanUNet, GanUNetConfig)
