"""Paper 001's 2D U-Net with optional per-class classification branches.

Same padding (output = input size, whole slice supervised) is the default; the
paper's valid padding is an option for a faithful reproduction. With ``branches=0``
it is the standard-supervision baseline: the same network without the branch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.nn.blocks import ClassificationBranch, UpStep, center_crop, double_conv, he_init


@dataclass(frozen=True)
class UNet2DConfig:
    """Architecture; stored in every model card so the network can be rebuilt without code.

    base: channels of the first level (paper 64; 16–24 for CPU). depth: number of 2×2
    poolings (paper 4). branches: classification branches (one per class; 0 = none).
    branch_widths: FC1..FC5 widths (paper 300, 250, 200, 150, 100), branch_fc6: FC6 width.
    """

    in_channels: int = 4
    n_classes: int = 4
    base: int = 64
    depth: int = 4
    same_padding: bool = True
    branches: int = 3
    branch_pool: int = 13
    branch_conv: int = 32
    branch_widths: tuple[int, ...] = (300, 250, 200, 150, 100)
    branch_fc6: int = 50

    def __post_init__(self) -> None:
        object.__setattr__(self, "branch_widths", tuple(int(w) for w in self.branch_widths))
        if self.depth < 1 or self.base < 1 or self.n_classes < 2 or self.in_channels < 1:
            raise WeakSegError(f"invalid U-Net configuration {self}")
        if len(self.branch_widths) < 2:
            raise WeakSegError("branch_widths needs at least FC1 and FC5 widths")

    @property
    def multiple(self) -> int:
        """Same-padding inputs must be a multiple of this (2**depth)."""
        return 2 ** self.depth

    def to_dict(self) -> dict:
        d = asdict(self)
        d["branch_widths"] = list(self.branch_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "UNet2DConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def valid_output_size(size: int, depth: int = 4) -> int:
    """Output side of the valid-padding U-Net for an input side; raises if a pooling input is odd.

    With every pooling input even, centre-cropping the skips gives the same offsets at
    every input size, so training and testing use one alignment (spec §5, item 3).
    """
    s = size
    for level in range(depth):
        s -= 4
        if s <= 0 or s % 2:
            raise WeakSegError(f"valid-padding U-Net: input {size} gives an odd or empty map ({s}) before pooling {level + 1}")
        s //= 2
    s -= 4
    for _ in range(depth):
        s = 2 * s - 1 - 4
        if s <= 0:
            raise WeakSegError(f"valid-padding U-Net: input {size} is too small")
    return s


class UNet2D(nn.Module):
    """``forward(x, n_seg=None) -> (seg_logits [N',K,H,W], [branch logits [N,2]] )``.

    ``n_seg`` restricts the segmentation head to the first ``n_seg`` images (the k + m
    images with a mask); the branches see the whole batch. ``with_branches=False``
    skips them (inference).
    """

    def __init__(self, config: UNet2DConfig):
        super().__init__()
        self.config = config
        pad = 1 if config.same_padding else 0
        widths = [config.base * 2 ** i for i in range(config.depth + 1)]
        self.enc = nn.ModuleList()
        cin = config.in_channels
        for c in widths:
            self.enc.append(double_conv(cin, c, pad))
            cin = c
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for c in reversed(widths[:-1]):
            self.up.append(UpStep(cin, c, config.same_padding))
            self.dec.append(double_conv(2 * c, c, pad))
            cin = c
        self.seg_head = nn.Conv2d(widths[0], config.n_classes, 1)
        self.cls_pool = nn.AdaptiveAvgPool2d(config.branch_pool)
        self.branches = nn.ModuleList(
            ClassificationBranch(widths[0], config.branch_pool, config.branch_conv, config.branch_widths, config.branch_fc6)
            for _ in range(config.branches))
        he_init(self)
        # Layers without a following ReLU: std sqrt(1/fan_in) (authors' initialisation).
        for m in [self.seg_head, *[u.conv for u in self.up]]:
            nn.init.normal_(m.weight, 0.0, (1.0 / m.weight[0].numel()) ** 0.5)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The second-to-last layer (input of the segmentation head and of the branches)."""
        if self.config.same_padding:
            m = self.config.multiple
            if x.shape[-1] % m or x.shape[-2] % m:
                raise WeakSegError(f"input {tuple(x.shape[-2:])} is not a multiple of {m}; pad it first")
        skips = []
        h = x
        for i, block in enumerate(self.enc):
            h = block(h)
            if i < self.config.depth:
                skips.append(h)
                h = self.pool(h)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            h = up(h)
            if not self.config.same_padding:
                skip = center_crop(skip, tuple(h.shape[-2:]))
            h = dec(torch.cat([skip, h], 1))
        return h

    def forward(self, x: torch.Tensor, n_seg: int | None = None, with_branches: bool = True):
        h = self.features(x)
        seg = self.seg_head(h if n_seg is None else h[:n_seg])
        if not with_branches or not len(self.branches):
            return seg, []
        pooled = self.cls_pool(h)
        return seg, [branch(pooled) for branch in self.branches]

    def output_size(self, size: int) -> int:
        return size if self.config.same_padding else valid_output_size(size, self.config.depth)

NETWORK = ("unet2d", UNet2D, UNet2DConfig)
