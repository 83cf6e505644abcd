"""A generator and its discriminator trained together (paper 002 stages A and B).

``kind='latent'``: the DCGAN G from a 100-d latent with D0 (stage A). ``kind='unet'``: the
converting U-Net U (E + G + skips) with a fresh D1 (stage B). Kept as one module so the
shared training engine checkpoints, resumes and seals both halves together.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from weakseg.nn.dcgan import Discriminator, Generator, dcgan_init, levels
from weakseg.nn.gan_unet import GanUNet, GanUNetConfig


@dataclass(frozen=True)
class GanPairConfig:
    kind: str = "latent"
    size: int = 64
    channels: int = 1
    base: int = 16
    nz: int = 100
    identity_skips: bool = True

    def __post_init__(self) -> None:
        levels(self.size)
        if self.kind not in ("latent", "unet"):
            raise ValueError(f"unknown GAN kind '{self.kind}' (expected latent or unet)")

    def unet_config(self) -> GanUNetConfig:
        return GanUNetConfig(self.size, self.channels, self.channels, self.base, self.nz, self.identity_skips)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GanPairConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class GanPair(nn.Module):
    def __init__(self, config: GanPairConfig):
        super().__init__()
        self.config = config
        c = config
        self.g = Generator(c.size, c.channels, c.base, c.nz) if c.kind == "latent" else GanUNet(c.unet_config())
        self.d = Discriminator(c.size, c.channels, c.base)
        if c.kind == "latent":
            dcgan_init(self.g)
        dcgan_init(self.d)


NETWORK = ("gan-pair", GanPair, GanPairConfig)
