"""Thesis ch. 2's 2D-3D model as one network: 2D networks per orientation → logit features → valid 3D U-Net.

The 2D networks (``MultiSeq2D``, one per orientation: axial, coronal, sagittal) run on every
slice of the MR stack; their main heads' logits (not the auxiliary heads, no softmax: spec
§2.3, §8 #7) become extra channels, z-scored with training-set statistics kept as buffers
(spec §8 #5), beside the MR channels of the valid 3D U-Net, which is tiled over the volume.
With no orientations it is the standard 3D baseline (MR channels only).

One module holds every part, so a trained model is one card and one safetensors file and
``load_model`` rebuilds it like any network. ``forward(x)`` takes whole volumes at the
original resolution (what the shared 3D engine hands a network whose patch covers the
volume) and returns full-size logits; ``forward(x, patches=True)`` is the 3D network on
prepared training patches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.nn.multiseq2d import MultiSeq2D, MultiSeq2DConfig
from weakseg.nn.unet3d_valid import ValidUNet3D, ValidUNet3DConfig, valid_output_size_3d

ORIENTATION_AXES = {"axial": 1, "coronal": 2, "sagittal": 3}
"""Axis of a (C, z, y, x) LPS stack that each orientation's slices are taken along."""
FEATURES_AT = ("input", "late")
BACKGROUND_LOGIT = 20.0


@dataclass(frozen=True)
class Cascade2D3DConfig:
    """sequences: MR channels; orientations: one 2D network each (() = standard 3D); net2d: the
    ``MultiSeq2DConfig`` shared by the orientations; net3d: ``ValidUNet3DConfig`` options (channels
    are derived); features_at: 'input' (model A) or 'late' (model B); inplane_downsample: the
    training resolution (volumes are shrunk in-plane by it); tile: largest inference window side (a
    volume that fits is one window);
    slice_batch: 2D slices per forward pass."""

    sequences: int = 4
    orientations: tuple[str, ...] = tuple(ORIENTATION_AXES)
    net2d: dict[str, Any] = field(default_factory=dict)
    net3d: dict[str, Any] = field(default_factory=dict)
    features_at: str = "input"
    inplane_downsample: int = 1
    tile: int = 126
    slice_batch: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "orientations", tuple(self.orientations))
        unknown = [o for o in self.orientations if o not in ORIENTATION_AXES]
        if unknown or len(set(self.orientations)) != len(self.orientations):
            raise WeakSegError(f"orientations must be distinct names from {', '.join(ORIENTATION_AXES)}, "
                               f"got {', '.join(self.orientations)}")
        if self.features_at not in FEATURES_AT:
            raise WeakSegError(f"unknown features_at '{self.features_at}' (expected {' or '.join(FEATURES_AT)})")
        if self.features_at == "late" and not self.orientations:
            raise WeakSegError("features_at 'late' needs at least one orientation")
        if self.inplane_downsample < 1 or self.slice_batch < 1:
            raise WeakSegError("inplane_downsample and slice_batch must be >= 1")
        valid_output_size_3d(self.tile)
        self.net2d_config()
        self.net3d_config()

    def net2d_config(self) -> MultiSeq2DConfig:
        return MultiSeq2DConfig.from_dict({**self.net2d, "in_channels": self.sequences})

    @property
    def feature_channels(self) -> int:
        return len(self.orientations) * self.net2d_config().n_classes

    def net3d_config(self) -> ValidUNet3DConfig:
        late = self.feature_channels if self.features_at == "late" else 0
        return ValidUNet3DConfig.from_dict({**self.net3d, "in_channels": self.sequences + self.feature_channels,
                                            "late_channels": late})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["orientations"] = list(self.orientations)
        d["net3d"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["net3d"].items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Cascade2D3DConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class Cascade2D3D(nn.Module):
    """See the module docstring."""

    def __init__(self, config: Cascade2D3DConfig):
        super().__init__()
        self.config = config
        self.nets2d = nn.ModuleDict({o: MultiSeq2D(config.net2d_config()) for o in config.orientations})
        self.net3d = ValidUNet3D(config.net3d_config())
        self.register_buffer("feature_mean", torch.zeros(config.feature_channels))
        self.register_buffer("feature_std", torch.ones(config.feature_channels))

    @property
    def n_classes(self) -> int:
        return self.net3d.config.n_classes

    @torch.no_grad()
    def features(self, stack: torch.Tensor) -> torch.Tensor:
        """Raw main-head logits [F, z, y, x] of every 2D network on a (C, z, y, x) stack, orientations in order."""
        from weakseg.inference.engine import _pad_for_network

        out = []
        for orientation, net in self.nets2d.items():
            axis = ORIENTATION_AXES[orientation]
            slices = stack.movedim(axis, 0)  # [S, C, a, b]
            a, b = slices.shape[-2:]
            pad, _ = _pad_for_network(net, a, b)
            was_training = net.training
            net.eval()
            parts = []
            for s0 in range(0, slices.shape[0], self.config.slice_batch):
                seg, _ = net(F.pad(slices[s0:s0 + self.config.slice_batch].float(), pad))
                parts.append(seg[..., pad[2]:pad[2] + a, pad[0]:pad[0] + b])
            net.train(was_training)
            out.append(torch.cat(parts).movedim(0, axis))
        if not out:
            return stack.new_zeros((0, *stack.shape[1:]), dtype=torch.float32)
        return torch.cat(out)

    def normalise_features(self, features: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * (features.ndim - 1)
        return (features.float() - self.feature_mean.view(shape)) / self.feature_std.view(shape)

    def inputs(self, stack: torch.Tensor) -> torch.Tensor:
        """The 3D network's input channels for a (C, z, y, x) stack at training resolution."""
        stack = stack.float()
        return torch.cat([stack, self.normalise_features(self.features(stack))]) if self.nets2d else stack

    @torch.no_grad()
    def predict_stack(self, stack: torch.Tensor, tile: int | None = None) -> torch.Tensor:
        """Logits [K, z, y, x] of a (C, z, y, x) stack at training resolution (2D features, then 3D tiles)."""
        return self.net3d.predict_volume(self.inputs(stack), tile or self.config.tile)

    def _background(self, shape, like: torch.Tensor) -> torch.Tensor:
        out = like.new_zeros((self.n_classes, *shape), dtype=torch.float32)
        if self.n_classes == 3:  # sigmoid regions: every region absent
            out -= BACKGROUND_LOGIT
        else:
            out[0] = BACKGROUND_LOGIT
        return out

    @torch.no_grad()
    def _volume(self, volume: torch.Tensor) -> torch.Tensor:
        from weakseg.training.data import shrink_stack

        where = torch.nonzero(volume.ne(0).any(0))
        out = self._background(volume.shape[1:], volume)
        if not len(where):
            return out
        lo, hi = where.min(0).values.tolist(), (where.max(0).values + 1).tolist()
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        stack = volume[(slice(None), *box)].float()
        factor = self.config.inplane_downsample
        if factor > 1:
            stack = torch.from_numpy(np.ascontiguousarray(shrink_stack(stack.cpu().numpy(), factor))).to(volume.device)
        logits = self.predict_stack(stack)
        if factor > 1:
            size = tuple(b - a for a, b in zip(lo[1:], hi[1:]))
            logits = F.interpolate(logits.transpose(0, 1), size=size, mode="bilinear",
                                   align_corners=False).transpose(0, 1)
        out[(slice(None), *box)] = logits
        return out

    def forward(self, x: torch.Tensor, patches: bool = False) -> torch.Tensor:
        """patches=False: whole volumes [N, C, Z, Y, X] → logits [N, K, Z, Y, X] (cropped to their
        non-zero extent inside); patches=True: prepared 3D inputs → ``net3d`` logits (training)."""
        if patches:
            return self.net3d(x)
        if x.shape[1] != self.config.sequences:
            raise WeakSegError(f"network expects {self.config.sequences} MR channels, got {x.shape[1]}")
        return torch.stack([self._volume(v) for v in x])


NETWORK = ("cascade2d3d", Cascade2D3D, Cascade2D3DConfig)
