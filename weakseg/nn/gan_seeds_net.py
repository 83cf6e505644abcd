"""Paper 002's trained pipeline as one network: C, the converter U and S0, S_US, S_OS.

Only inference uses it (``weakseg.methods.gan_seeds.infer``); training trains each part as
its own stage. One module keeps the shipped model one sealed safetensors file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from weakseg.nn.gan_unet import GanUNet, GanUNetConfig
from weakseg.nn.slice_classifier import SliceClassifier, SliceClassifierConfig


@dataclass(frozen=True)
class GanSeedsNetConfig:
    size: int = 64
    in_channels: int = 1
    classifier_base: int = 12
    classifier_upsample: float = 1.0
    gan_base: int = 16
    unet_base: int = 12
    nz: int = 100
    seg_slope: float = 0.2

    def classifier(self) -> SliceClassifierConfig:
        return SliceClassifierConfig(self.in_channels, self.classifier_base, 4, 64, self.classifier_upsample)

    def converter(self) -> GanUNetConfig:
        return GanUNetConfig(self.size, 1, 1, self.gan_base, self.nz, False)

    def segmenter(self) -> GanUNetConfig:
        return GanUNetConfig(self.size, self.in_channels, 1, self.unet_base, self.nz, False, self.seg_slope)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GanSeedsNetConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class GanSeedsNet(nn.Module):
    def __init__(self, config: GanSeedsNetConfig):
        super().__init__()
        self.config = config
        self.classifier = SliceClassifier(config.classifier())
        self.converter = GanUNet(config.converter())
        self.s0 = GanUNet(config.segmenter())
        self.s_us = GanUNet(config.segmenter())
        self.s_os = GanUNet(config.segmenter())


NETWORK = ("gan-seeds", GanSeedsNet, GanSeedsNetConfig)
