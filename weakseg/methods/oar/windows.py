"""Where the OAR network runs: the head's extent and, per orientation, a window that keeps the shipped grid.

Air slices and air borders hold nothing the model segments; skipping them saves 15 % of the
network's work on a skull-on 1 mm phantom head, whose noisy air the foreground box keeps
(a skull-stripped scan is already cut to its brain). Cropping changes what the network sees in
two ways, both kept small on purpose: the context outside the window becomes zero (air in the
normalised image is ~0.02, and training patches are zero-padded too), and the in-plane window
starts on the same multiple of the network's pooling stride as the uncropped, centre-padded
slice did, so every pooling cell covers the same voxels as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class WindowConfig:
    """level: head voxels are brighter than this (normalised units, 1 = bright end; air ~0.02);
    margin: voxels of air kept beside the head in each slice (the network's context; 8 changed 0.03 %
      of a phantom head's labels, 24 none on it or on the real T1: docs/results/oar-bench.md);
    slice_margin: air slices kept beyond the head's first and last slice (slices are independent)."""

    level: float = 0.1
    margin: int = 24
    slice_margin: int = 2


def head_extent(image: np.ndarray, level: float = WindowConfig.level) -> tuple[tuple[int, int], ...]:
    """Per axis, [lo, hi) of the largest component brighter than ``level`` (opened once to cut it from
    noise specks). The whole array when nothing is bright.
    """
    labels, n = ndi.label(ndi.binary_opening(image > level))
    if n == 0:
        return tuple((0, s) for s in image.shape)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    found = ndi.find_objects((labels == int(np.argmax(sizes))).astype(np.uint8))[0]
    return tuple((s.start, s.stop) for s in found)


def slice_windows(extent, shape, axis: int, plane: tuple[int, int], config: WindowConfig = WindowConfig(),
                  multiple: int = 16) -> tuple[tuple[int, int], ...]:
    """[start, stop) of the slices along ``axis`` and of the pooling-aligned in-plane window (axes ``plane``)."""
    def grown(i: int, margin: int) -> tuple[int, int]:
        return max(extent[i][0] - margin, 0), min(extent[i][1] + margin, shape[i])

    return (grown(axis, config.slice_margin),
            *(aligned_window(*grown(i, config.margin), shape[i], multiple) for i in plane))


def aligned_window(lo: int, hi: int, size: int, multiple: int) -> tuple[int, int]:
    """[start, stop) covering [lo, hi) on an axis of ``size``, on the pooling grid the engine's centre padding uses.

    The engine pads ``size`` to a multiple of ``multiple`` with ``pad // 2`` in front, so a window
    whose start is -pad_front mod ``multiple`` sees every pooling cell it did uncropped. The result
    may reach into that padding (start < 0 or stop > size): those rows are zeros, as before.
    """
    front = ((-size) % multiple) // 2
    padded = size + (-size) % multiple
    start = (lo + front) // multiple * multiple
    stop = min(-(-(hi + front) // multiple) * multiple, padded)
    return start - front, stop - front


def take(array: np.ndarray, windows: tuple[tuple[int, int], ...]) -> np.ndarray:
    """``array`` inside ``windows`` (one [start, stop) per axis, possibly beyond the array), zero outside it."""
    out = np.zeros(tuple(b - a for a, b in windows), array.dtype)
    src = tuple(slice(max(a, 0), min(b, n)) for (a, b), n in zip(windows, array.shape))
    dst = tuple(slice(s.start - a, s.stop - a) for s, (a, _) in zip(src, windows))
    out[dst] = array[src]
    return out


def put(target: np.ndarray, values: np.ndarray, windows: tuple[tuple[int, int], ...]) -> None:
    """Write the part of ``values`` (laid out as ``take`` cut it) that falls inside ``target``'s last axes."""
    lead = target.ndim - len(windows)
    src = tuple(slice(max(a, 0), min(b, n)) for (a, b), n in zip(windows, target.shape[lead:]))
    dst = tuple(slice(s.start - a, s.stop - a) for s, (a, _) in zip(src, windows))
    target[(Ellipsis, *src)] = values[(Ellipsis, *dst)]
