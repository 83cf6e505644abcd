"""A 2D network rearranged for CPU inference: same weights, same labels, up to twice as fast.

Used by ``segment_case`` for every slice model on the CPU, and by the OAR method's vote.

Batch normalisation in eval mode is an affine map, so it folds into the preceding
convolution (torch's ``fuse_conv_bn_eval``; differences are float rounding, ~1e-5 in the
logits); channels-last tensors let oneDNN use its fastest convolution kernels. bfloat16 is an
opt-in (a card's ``inference.precision``): on CPUs with native support (AVX512-BF16, AMX) it is
about twice as fast again, but it moves logits by ~0.1 and on the real T1 lowered the
hippocampus and brainstem Dice slightly (docs/results/oar-bench.md), so the shipped model runs
in float32. Works for any network built from ``weakseg.nn.blocks`` (``conv_bn``, ``UpStep``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

PRECISIONS = ("auto", "float32", "bfloat16")


def fold_batchnorm(network: nn.Module) -> nn.Module:
    """An eval-mode copy of ``network`` with every Conv2d → BatchNorm2d pair merged into one Conv2d."""
    folded = copy.deepcopy(network).eval()
    for module in folded.modules():
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                if isinstance(module[i], nn.Conv2d) and isinstance(module[i + 1], nn.BatchNorm2d):
                    module[i] = fuse_conv_bn_eval(module[i], module[i + 1])
                    module[i + 1] = nn.Identity()
        conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):  # UpStep: conv then bn
            module.conv, module.bn = fuse_conv_bn_eval(conv, bn), nn.Identity()
    return folded


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 convolutions natively (emulated bfloat16 is slower than float32)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


class InferenceNetwork(nn.Module):
    """``network`` with batch norm folded, run channels-last (and in bfloat16 on CPUs made for it).

    Keeps the wrapped network's ``config`` and ``forward(x) -> (logits, branches)`` so the shared
    slice engine runs it unchanged; ``precision``: 'auto' (bfloat16 on a CPU with native support,
    else float32), 'float32' or 'bfloat16'.
    """

    def __init__(self, network: nn.Module, precision: str = "float32"):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision '{precision}' (expected {', '.join(PRECISIONS)})")
        self.inner = fold_batchnorm(network).to(memory_format=torch.channels_last)
        self.config = getattr(network, "config", None)
        self.precision = precision

    def uses_bfloat16(self, device: torch.device) -> bool:
        return device.type == "cpu" and (self.precision == "bfloat16" or (self.precision == "auto" and native_bfloat16()))

    def forward(self, x: torch.Tensor, *args, **kwargs):
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.uses_bfloat16(x.device)):
            seg, branches = self.inner(x.contiguous(memory_format=torch.channels_last), *args, **kwargs)
            return seg.float().contiguous(), branches
