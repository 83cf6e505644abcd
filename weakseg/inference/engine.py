"""Whole-volume prediction: slice-wise for 2D networks, Gaussian-blended patches for 3D ones.

Shared by every method. The engine picks the device (auto → CUDA → CPU; MPS only when
asked), sizes batches from free memory, optionally averages a left-right flip
(test-time augmentation), reports progress, and checks a ``threading.Event`` between
batches so a GUI can cancel within one batch.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from weakseg.errors import Cancelled, WeakSegError

log = logging.getLogger("weakseg")

Progress = Callable[[dict], None]
DEVICES = ("auto", "cpu", "cuda", "mps")




@dataclass(frozen=True)
class InferenceConfig:
    """How to run a model.

    device: 'auto' (CUDA if available, else CPU; MPS is never picked automatically because
    some operations are still missing or slow there), 'cpu', 'cuda', 'cuda:1', 'mps'.
    batch_size: slices (2D) or patches (3D) per forward pass; None sizes it from free memory.
    tta: also predict the left-right mirrored input and average the probabilities; None: as the
      model card's ``inference.tta`` says (the setting its cross-validation chose).
    patch_size / overlap: 3D sliding window (z, y, x) and the fraction neighbouring patches share.
    memory_fraction: share of free memory a batch may use when sizing it automatically.
    threads: CPU threads for torch (None: the idle cores, see ``cpu_threads``).
    min_component_fraction: drop connected lesion components (all foreground classes together)
      smaller than this fraction of the largest one; None uses the model card's setting, 0 keeps all.
    """

    device: str = "auto"
    batch_size: int | None = None
    tta: bool | None = None
    patch_size: tuple[int, int, int] | None = None
    overlap: float = 0.5
    memory_fraction: float = 0.25
    max_batch: int = 32
    threads: int | None = None
    min_component_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.device.split(":")[0] not in DEVICES:
            raise WeakSegError(f"unknown device '{self.device}' (expected auto, cpu, cuda or mps)")
        if not 0.0 <= self.overlap < 1.0:
            raise WeakSegError(f"overlap must be in [0, 1), got {self.overlap}")
        if self.batch_size is not None and self.batch_size < 1:
            raise WeakSegError(f"batch size must be >= 1, got {self.batch_size}")


def as_float16(array: np.ndarray) -> np.ndarray:
    """A float16 copy of a float array, bit-identical to ``array.astype(np.float16)`` but vectorised.

    NumPy converts values that become float16 subnormals (softmax probabilities near 0: most of
    a brain) one by one in software, 0.6 s for one case's probabilities; torch uses the CPU's
    conversion instructions (0.02 s).
    """
    return torch.from_numpy(np.asarray(array, np.float32)).to(torch.float16).numpy()


def cpu_threads() -> int:
    """Threads for CPU inference: the cores not already busy (by the 1-minute load), at least 1.

    On a shared machine, more OpenMP threads than idle cores makes PyTorch many times
    slower (threads spin waiting for each other), so an oversubscribed machine gets 1.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, min(cores, int(cores - load + 0.5)))


def resolve_device(policy: str = "auto") -> torch.device:
    """auto → CUDA → CPU; an explicit device that is not available is a one-line error."""
    kind = policy.split(":")[0]
    if kind == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise WeakSegError("device 'cuda' requested but no CUDA GPU is available to PyTorch")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise WeakSegError("device 'mps' requested but Apple MPS is not available to PyTorch")
    return torch.device(policy)


def free_memory_bytes(device: torch.device) -> int:
    """Free memory on the device: CUDA from the driver, CPU/MPS from MemAvailable."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def activation_bytes_per_item(network: nn.Module, item_shape: tuple[int, ...]) -> int:
    """Rough inference memory for one slice/patch: every feature map of a U-Net-like net, kept twice.

    Estimated from the widest level (``config.base``) over the item's voxels: the encoder and
    decoder levels form a geometric series, so ~4 maps of ``base`` channels at full
    resolution dominate. Over-estimating only makes batches smaller.
    """
    config = getattr(network, "config", None)
    base = int(getattr(config, "base", 32))
    voxels = int(np.prod(item_shape[1:]))
    return int(voxels * base * 4 * 8 * 2)


def auto_batch_size(network: nn.Module, item_shape: tuple[int, ...], device: torch.device, config: InferenceConfig) -> int:
    if config.batch_size:
        return config.batch_size
    budget = free_memory_bytes(device) * config.memory_fraction
    per_item = max(activation_bytes_per_item(network, item_shape), 1)
    cap = config.max_batch if device.type == "cuda" else min(config.max_batch, 16)
    return int(max(1, min(cap, budget // per_item)))


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _emit(progress: Progress | None, **event) -> None:
    if progress is not None:
        progress({"kind": "inference", "time": time.time(), **event})


def _batches(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def drop_small_components(classes: np.ndarray, fraction: float) -> np.ndarray:
    """Set to background every 3D connected foreground component smaller than ``fraction`` × the largest.

    Slice-wise 2D networks leave scattered false-positive islands far from the lesion;
    they barely change Dice but dominate the Hausdorff distance.
    """
    if fraction <= 0:
        return classes
    from scipy import ndimage

    components, count = ndimage.label(classes > 0, structure=np.ones((3, 3, 3), bool))
    if count <= 1:
        return classes
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    keep = sizes >= fraction * sizes.max()
    keep[0] = True
    out = classes.copy()
    out[~keep[components]] = 0
    return out


# --- 2D: slice by slice ---------------------------------------------------------------------------

def _pad_for_network(network: nn.Module, h: int, w: int) -> tuple[tuple[int, int, int, int], int]:
    """Padding (left, right, top, bottom) of the input so the output covers h×w, and the output offset."""
    config = getattr(network, "config", None)
    if config is not None and not getattr(config, "same_padding", True):
        from weakseg.nn.unet2d import valid_output_size

        def fit(n: int) -> tuple[int, int]:
            size = n
            while True:
                try:
                    out = valid_output_size(size, config.depth)
                except WeakSegError:
                    size += 1
                    continue
                if out >= n:
                    return size, (size - out) // 2
                size += 1

        sh, offh = fit(h)
        sw, offw = fit(w)
        return (offw, sw - w - offw, offh, sh - h - offh), 0
    multiple = getattr(config, "multiple", 16) if config is not None else 16
    ph, pw = (-h) % multiple, (-w) % multiple
    return (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), 0


ACTIVATIONS = ("softmax", "sigmoid")


def activate(logits: torch.Tensor, activation: str) -> torch.Tensor:
    """Probabilities from logits: softmax over classes, or independent sigmoids (nested region outputs)."""
    if activation not in ACTIVATIONS:
        raise WeakSegError(f"unknown output activation '{activation}' (expected {' or '.join(ACTIVATIONS)})")
    return torch.sigmoid(logits.float()) if activation == "sigmoid" else torch.softmax(logits.float(), 1)


def _forward_2d(network: nn.Module, x: torch.Tensor, h: int, w: int, pad: tuple[int, int, int, int],
                activation: str = "softmax"):
    """Probabilities [B,K,h,w] and branch 'present' probabilities [B,nb]."""
    xp = F.pad(x, pad)
    seg, branches = network(xp)
    if seg.shape[-2:] == xp.shape[-2:]:
        seg = seg[..., pad[2]:pad[2] + h, pad[0]:pad[0] + w]
    else:  # valid padding: output pixel j is input pixel j + offset; the pad put the slice at that offset
        seg = seg[..., :h, :w]
    probs = activate(seg, activation)
    present = (torch.stack([torch.softmax(b.float(), 1)[:, 1] for b in branches], 1)
               if branches else None)
    return probs, present


@torch.no_grad()
def predict_slices(network: nn.Module, stack: np.ndarray, config: InferenceConfig = InferenceConfig(), *,
                   downsample: float = 1.0, activation: str = "softmax", progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Run a 2D network on every axial slice of a (C,z,y,x) stack.

    Returns probabilities (K,z,y,x) float32 (``activation`` of the logits) and, if the network has
    classification branches, per-slice 'present' probabilities (branches, z).
    ``downsample`` > 1 shrinks each slice in-plane for the network (as in training) and
    brings the probabilities back with bilinear interpolation.
    """
    device = resolve_device(config.device)
    network = network.to(device).eval()
    c, depth, h, w = stack.shape
    hs, ws = (max(1, round(h / downsample)), max(1, round(w / downsample))) if downsample != 1 else (h, w)
    pad, _ = _pad_for_network(network, hs, ws)
    batch = auto_batch_size(network, (c, hs + pad[2] + pad[3], ws + pad[0] + pad[1]), device, config)
    probs_out: np.ndarray | None = None
    present_out: np.ndarray | None = None
    total = math.ceil(depth / batch)
    _emit(progress, stage="predict", done=0, total=total, fraction=0.0, batch_size=batch, device=str(device))
    for index, (z0, z1) in enumerate(_batches(depth, batch)):
        _check_cancel(cancel)
        x = torch.from_numpy(np.ascontiguousarray(stack[:, z0:z1].transpose(1, 0, 2, 3))).to(device, torch.float32)
        if (hs, ws) != (h, w):
            x = F.interpolate(x, size=(hs, ws), mode="area")
        probs, present = _forward_2d(network, x, hs, ws, pad, activation)
        if config.tta:
            p_flip, pr_flip = _forward_2d(network, torch.flip(x, (-1,)), hs, ws, pad, activation)
            probs = 0.5 * (probs + torch.flip(p_flip, (-1,)))
            if present is not None:
                present = 0.5 * (present + pr_flip)
        if (hs, ws) != (h, w):
            probs = F.interpolate(probs, size=(h, w), mode="bilinear", align_corners=False)
        if probs_out is None:
            probs_out = np.zeros((probs.shape[1], depth, h, w), dtype=np.float32)
            if present is not None:
                present_out = np.zeros((present.shape[1], depth), dtype=np.float32)
        probs_out[:, z0:z1] = probs.permute(1, 0, 2, 3).cpu().numpy()
        if present is not None:
            present_out[:, z0:z1] = present.T.cpu().numpy()
        _emit(progress, stage="predict", done=index + 1, total=total, fraction=(index + 1) / total)
    assert probs_out is not None
    return probs_out, present_out


# --- 3D: overlapping patches with Gaussian blending -------------------------------------------------

def gaussian_weight(patch: tuple[int, int, int], sigma_scale: float = 0.125) -> np.ndarray:
    """Separable Gaussian centred on the patch (sigma = patch/8), so patch borders count little."""
    axes = []
    for n in patch:
        coords = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
        sigma = max(n * sigma_scale, 1e-3)
        axes.append(np.exp(-0.5 * (coords / sigma) ** 2))
    weight = axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :]
    weight /= weight.max()
    return np.maximum(weight, 1e-4).astype(np.float32)


def patch_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Start indices covering [0, size) with windows of ``patch`` sharing ``overlap`` of their length."""
    if size <= patch:
        return [0]
    step = max(1, int(round(patch * (1.0 - overlap))))
    starts = list(range(0, size - patch + 1, step))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


@torch.no_grad()
def predict_patches_3d(network: nn.Module, stack: np.ndarray, config: InferenceConfig, *, activation: str = "softmax",
                       progress: Progress | None = None, cancel: threading.Event | None = None) -> np.ndarray:
    """Sliding-window prediction of a 3D network on a (C,z,y,x) stack → (K,z,y,x) probabilities.

    The network maps [N,C,pz,py,px] to logits [N,K,pz,py,px]. Overlapping windows are
    blended with a Gaussian weight, which removes the seams a plain average leaves.
    """
    if config.patch_size is None:
        raise WeakSegError("3D prediction needs InferenceConfig.patch_size")
    device = resolve_device(config.device)
    network = network.to(device).eval()
    c = stack.shape[0]
    shape = stack.shape[1:]
    patch = tuple(int(p) for p in config.patch_size)
    padded = [max(s, p) for s, p in zip(shape, patch)]
    volume = np.zeros((c, *padded), dtype=np.float32)
    volume[:, :shape[0], :shape[1], :shape[2]] = stack
    weight = torch.from_numpy(gaussian_weight(patch)).to(device)
    corners = [(z, y, x) for z in patch_starts(padded[0], patch[0], config.overlap)
               for y in patch_starts(padded[1], patch[1], config.overlap)
               for x in patch_starts(padded[2], patch[2], config.overlap)]
    batch = auto_batch_size(network, (c, *patch), device, config)
    accumulated: torch.Tensor | None = None
    norm = torch.zeros(padded, dtype=torch.float32, device=device)
    total = math.ceil(len(corners) / batch)
    _emit(progress, stage="predict", done=0, total=total, fraction=0.0, batch_size=batch, device=str(device))
    for index, (b0, b1) in enumerate(_batches(len(corners), batch)):
        _check_cancel(cancel)
        chunk = corners[b0:b1]
        x = torch.from_numpy(np.stack([volume[:, z:z + patch[0], y:y + patch[1], xx:xx + patch[2]] for z, y, xx in chunk])).to(device)
        out = network(x)
        logits = out[0] if isinstance(out, (tuple, list)) else out
        probs = activate(logits, activation)
        if config.tta:
            flipped = network(torch.flip(x, (-1,)))
            flipped = flipped[0] if isinstance(flipped, (tuple, list)) else flipped
            probs = 0.5 * (probs + torch.flip(activate(flipped, activation), (-1,)))
        if accumulated is None:
            accumulated = torch.zeros((probs.shape[1], *padded), dtype=torch.float32, device=device)
        for p, (z, y, xx) in zip(probs, chunk):
            accumulated[:, z:z + patch[0], y:y + patch[1], xx:xx + patch[2]] += p * weight
            norm[z:z + patch[0], y:y + patch[1], xx:xx + patch[2]] += weight
        _emit(progress, stage="predict", done=index + 1, total=total, fraction=(index + 1) / total)
    assert accumulated is not None
    result = (accumulated / norm).cpu().numpy()
    return result[:, :shape[0], :shape[1], :shape[2]]
