"""Thesis ch. 2's 2D network with modality-specific subnetworks and auxiliary heads (2D model 1 or 2).

For K sequences there are K + 1 subnetworks: one per sequence (one input channel) and one
that sees all K. Each ends in ``sub_width`` maps and an auxiliary 1×1 classification head,
penalised in training only (deep supervision); the final maps of all subnetworks are
concatenated and fed to a same-padding U-Net (``UNet2D`` without branches) whose head gives
the output. Subnetwork 'unet' is 2D model 1 (a reduced U-Net: two poolings, bilinear ×4
back, the first layer joined to the upsampled maps); 'conv3' is 2D model 2 (three conv
layers). Reconstruction of spec §2.2 (docs/methods/thesis-2d3d-oar.md); the thesis widths
are sub_width 32 and base 64, the defaults here are CPU-sized.

``forward`` returns ``(logits, aux)`` like ``UNet2D`` returns ``(logits, branches)``: the
auxiliary logits only in training mode, so the shared slice engine (``predict_slices``) and
the recipe's ``predict_stack`` run a trained network as any 2D model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.nn.blocks import conv_bn, he_init
from weakseg.nn.unet2d import UNet2D, UNet2DConfig

SUBNETS = ("unet", "conv3")


@dataclass(frozen=True)
class MultiSeq2DConfig:
    """in_channels: K sequences; n_classes: outputs of the main and auxiliary heads (4 classes, or
    3 sigmoid regions); subnet: 'unet' (2D model 1) or 'conv3' (2D model 2); sub_width: maps per
    subnetwork; base / depth: the main U-Net's first width and number of poolings."""

    in_channels: int = 4
    n_classes: int = 4
    subnet: str = "unet"
    sub_width: int = 8
    base: int = 16
    depth: int = 4

    def __post_init__(self) -> None:
        if self.subnet not in SUBNETS:
            raise WeakSegError(f"unknown subnetwork '{self.subnet}' (expected {' or '.join(SUBNETS)})")
        if min(self.in_channels, self.sub_width, self.base, self.depth) < 1 or self.n_classes < 2:
            raise WeakSegError(f"invalid multi-sequence 2D network configuration {self}")

    @property
    def same_padding(self) -> bool:
        return True

    @property
    def multiple(self) -> int:
        """Slice sides must be a multiple of this (the main U-Net's and the reduced U-Net's poolings)."""
        return 2 ** max(self.depth, 2 if self.subnet == "unet" else 0)

    @property
    def subnetworks(self) -> int:
        return self.in_channels + 1

    def main_config(self) -> UNet2DConfig:
        return UNet2DConfig(self.subnetworks * self.sub_width, self.n_classes, self.base, self.depth, True, 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MultiSeq2DConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class SubNetwork(nn.Module):
    """One subnetwork: ``forward(x) -> (maps [B,w,H,W], auxiliary logits [B,K,H,W])``."""

    def __init__(self, cin: int, width: int, kind: str, n_classes: int):
        super().__init__()
        self.kind = kind
        if kind == "unet":
            self.first = conv_bn(cin, width)
            self.body = nn.Sequential(conv_bn(width, width), nn.MaxPool2d(2), conv_bn(width, 2 * width),
                                      conv_bn(2 * width, 2 * width), nn.MaxPool2d(2), conv_bn(2 * width, 4 * width),
                                      conv_bn(4 * width, 4 * width), nn.Upsample(scale_factor=4, mode="bilinear"),
                                      conv_bn(4 * width, width))
            self.last = conv_bn(2 * width, width)
        else:
            self.body = nn.Sequential(conv_bn(cin, width), conv_bn(width, width), conv_bn(width, width))
        self.aux = nn.Conv2d(width, n_classes, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "unet":
            first = self.first(x)
            maps = self.last(torch.cat([first, self.body(first)], 1))
        else:
            maps = self.body(x)
        return maps, self.aux(maps)


class MultiSeq2D(nn.Module):
    """``forward(x [B,K,H,W]) -> (logits [B',n,H,W], [aux logits per subnetwork] in training, else [])``."""

    def __init__(self, config: MultiSeq2DConfig):
        super().__init__()
        self.config = config
        k, w = config.in_channels, config.sub_width
        self.subs = nn.ModuleList([SubNetwork(1, w, config.subnet, config.n_classes) for _ in range(k)]
                                  + [SubNetwork(k, w, config.subnet, config.n_classes)])
        self.main = UNet2D(config.main_config())
        he_init(self.subs)
        for sub in self.subs:  # no ReLU after the auxiliary head: std sqrt(1/fan_in), as UNet2D's head
            nn.init.normal_(sub.aux.weight, 0.0, (1.0 / sub.aux.weight[0].numel()) ** 0.5)

    def _check(self, x: torch.Tensor) -> None:
        m = self.config.multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise WeakSegError(f"input {tuple(x.shape[-2:])} is not a multiple of {m}; pad it first")
        if x.shape[1] != self.config.in_channels:
            raise WeakSegError(f"network expects {self.config.in_channels} channels, got {x.shape[1]}")

    def subnetwork(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Auxiliary logits of subnetwork ``index`` alone on its input (one sequence, or all for the last):
        what missing-sequence pretraining trains (spec §2.6)."""
        m = self.config.multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise WeakSegError(f"input {tuple(x.shape[-2:])} is not a multiple of {m}; pad it first")
        return self.subs[index](x)[1]

    def forward(self, x: torch.Tensor, n_seg: int | None = None, with_branches: bool = True,
                subnet: int | None = None):
        """``subnet`` = k: only subnetwork k's auxiliary logits on x (one channel, or all for the last)."""
        if subnet is not None:
            return self.subnetwork(subnet, x), []
        self._check(x)
        k = self.config.in_channels
        outs = [sub(x[:, i:i + 1]) for i, sub in enumerate(self.subs[:k])] + [self.subs[k](x)]
        seg, _ = self.main(torch.cat([maps for maps, _ in outs], 1), n_seg=n_seg, with_branches=False)
        if not (self.training and with_branches):
            return seg, []
        return seg, [aux if n_seg is None else aux[:n_seg] for _, aux in outs]


NETWORK = ("multiseq2d", MultiSeq2D, MultiSeq2DConfig)
