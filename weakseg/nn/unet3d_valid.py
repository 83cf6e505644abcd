"""Thesis ch. 2's 3D network: a U-Net with valid 3×3×3 convolutions mapping 70³ to 30³ (model A / B).

Layer by layer (spec §2.3 reconstruction; every pooling input is even and every skip crop
offset an integer, so output voxel j is input voxel j + 20 on each axis):
``70 →c→ 68 →pool→ 34 →c→c→ 30 →pool→ 15 →c→c→ 11 →up×2→ 22 ⊕ crop(30) →c→c→ 18 →up→ 36 ⊕ crop(68)
→c→c→c→ 30 → 1×1×1 head``. Any input side n ≡ 2 (mod 4), n ≥ 50, gives n − 40, so inference
can use larger tiles than training. No normalisation (the thesis's) or GroupNorm.

With ``late_channels`` > 0 the last that many input channels skip the encoder and join at the
last decoder stage (model B: 2D features enter before the final convolutions). Given only MR
channels it is the standard 3D baseline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.nn.blocks import he_init

CONTEXT = 20
"""Input voxels lost on each side: output voxel j is input voxel j + CONTEXT."""
NORMS = ("none", "group")
UPSAMPLES = ("nearest", "trilinear")


def valid_output_size_3d(size: int) -> int:
    """Output side for an input side; raises unless size ≡ 2 (mod 4) and size ≥ 50."""
    if size < 2 * CONTEXT + 10 or (size - 2) % 4:
        raise WeakSegError(f"valid 3D U-Net: input side {size} must be at least 50 and ≡ 2 (mod 4) (e.g. 70 → 30)")
    return size - 2 * CONTEXT


@dataclass(frozen=True)
class ValidUNet3DConfig:
    """in_channels: all inputs (MR + features); n_classes: 4 classes or 3 sigmoid regions; widths: the
    three levels (thesis reconstruction 32, 64, 128; CPU-sized default); norm: 'none' (the thesis's) or
    'group' (GroupNorm's statistics span the tile, so its outputs depend on the tile size);
    late_channels: trailing input channels joined at the last decoder stage (model B); upsample:
    'nearest' (default: the network is then exactly equivariant to shifts by 4, so tiled prediction
    does not depend on the tile size) or 'trilinear' (the spec's choice; its clamped borders make
    every tile's edge voxels depend on where the tile lies)."""

    in_channels: int = 4
    n_classes: int = 4
    widths: tuple[int, int, int] = (8, 16, 32)
    norm: str = "none"
    late_channels: int = 0
    upsample: str = "nearest"

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) != 3 or min(self.widths) < 1 or self.n_classes < 2:
            raise WeakSegError(f"invalid valid 3D U-Net configuration {self}")
        if self.norm not in NORMS:
            raise WeakSegError(f"unknown norm '{self.norm}' (expected {' or '.join(NORMS)})")
        if self.upsample not in UPSAMPLES:
            raise WeakSegError(f"unknown upsample '{self.upsample}' (expected {' or '.join(UPSAMPLES)})")
        if not 0 <= self.late_channels < self.in_channels:
            raise WeakSegError("late_channels must leave at least one channel for the encoder")

    @property
    def context(self) -> int:
        return CONTEXT

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ValidUNet3DConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _conv(cin: int, cout: int, norm: str) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv3d(cin, cout, 3)]
    if norm == "group":
        layers.append(nn.GroupNorm(min(8, cout), cout))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def crop_centre(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Centre crop of the three spatial axes to ``size`` (the offsets here are always integers)."""
    index = [slice((s - n) // 2, (s - n) // 2 + n) for s, n in zip(x.shape[-3:], size)]
    return x[(Ellipsis, *index)]


def fitted_side(size: int, tile: int) -> int:
    """The input side for ``size`` output voxels along an axis: the smallest valid side covering them, at most ``tile``."""
    need = max(size + 2 * CONTEXT, 2 * CONTEXT + 10)
    need += (2 - need) % 4
    return min(tile, need)


class ValidUNet3D(nn.Module):
    """``forward(x [N,C,a,b,c]) -> logits [N,K,a-40,b-40,c-40]`` (each side ≡ 2 mod 4; see ``predict_volume``)."""

    def __init__(self, config: ValidUNet3DConfig):
        super().__init__()
        self.config = config
        w0, w1, w2 = config.widths
        cin = config.in_channels - config.late_channels
        n = config.norm
        self.enc0 = _conv(cin, w0, n)
        self.enc1 = nn.Sequential(_conv(w0, w1, n), _conv(w1, w1, n))
        self.enc2 = nn.Sequential(_conv(w1, w2, n), _conv(w2, w2, n))
        self.dec1 = nn.Sequential(_conv(w2 + w1, w1, n), _conv(w1, w1, n))
        self.dec0 = nn.Sequential(_conv(w1 + w0 + config.late_channels, w0, n), _conv(w0, w0, n), _conv(w0, w0, n))
        self.head = nn.Conv3d(w0, config.n_classes, 1)
        he_init(self)
        nn.init.normal_(self.head.weight, 0.0, (1.0 / self.head.weight[0].numel()) ** 0.5)

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.upsample == "nearest":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        return F.interpolate(x, scale_factor=2, mode="trilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for side in x.shape[-3:]:
            valid_output_size_3d(side)
        late = self.config.late_channels
        mr, extra = (x[:, :-late], x[:, -late:]) if late else (x, None)
        e0 = self.enc0(mr)                                   # n - 2
        e1 = self.enc1(F.max_pool3d(e0, 2))                  # (n - 2) / 2 - 4
        e2 = self.enc2(F.max_pool3d(e1, 2))
        up = self._up(e2)
        d1 = self.dec1(torch.cat([crop_centre(e1, up.shape[-3:]), up], 1))
        up = self._up(d1)
        parts = [crop_centre(e0, up.shape[-3:]), up]
        if extra is not None:
            parts.append(crop_centre(extra, up.shape[-3:]))
        return self.head(self.dec0(torch.cat(parts, 1)))

    @torch.no_grad()
    def predict_volume(self, volume: torch.Tensor, tile: int = 126, batch_size: int = 1) -> torch.Tensor:
        """Logits [K,Z,Y,X] of a whole volume [C,Z,Y,X], zeros outside it (as training patches are padded).

        Windows are at most ``tile`` per side and no larger than the volume needs (one window
        along an axis the volume fits in). Output tiles start at multiples of 4 (the network's
        total stride), so every tile pools in the same phase and the result is what one forward
        pass over the whole zero-padded volume would give, whatever the tiles; overlaps agree.
        """
        valid_output_size_3d(tile)
        c, *shape = volume.shape
        sides = [fitted_side(s, tile) for s in shape]
        outs = [n - 2 * CONTEXT for n in sides]
        steps = [o - o % 4 for o in outs]
        counts = [max(1, int(np.ceil((s - o) / st)) + 1) for s, o, st in zip(shape, outs, steps)]
        right = [(n - 1) * st + side - CONTEXT - s for s, n, st, side in zip(shape, counts, steps, sides)]
        padded = F.pad(volume, [p for r in reversed(right) for p in (CONTEXT, r)])
        starts = [[i * st for i in range(n)] for n, st in zip(counts, steps)]
        corners = [(z, y, x) for z in starts[0] for y in starts[1] for x in starts[2]]
        result = torch.zeros((self.config.n_classes, *[(n - 1) * st + o for n, st, o in zip(counts, steps, outs)]),
                             dtype=volume.dtype, device=volume.device)
        (a, b, d), (oa, ob, od) = sides, outs
        for b0 in range(0, len(corners), batch_size):
            chunk = corners[b0:b0 + batch_size]
            x = torch.stack([padded[:, z:z + a, y:y + b, xx:xx + d] for z, y, xx in chunk])
            for logit, (z, y, xx) in zip(self(x).to(result.dtype), chunk):
                result[:, z:z + oa, y:y + ob, xx:xx + od] = logit
        return result[:, :shape[0], :shape[1], :shape[2]]


NETWORK = ("unet3d-valid", ValidUNet3D, ValidUNet3DConfig)
