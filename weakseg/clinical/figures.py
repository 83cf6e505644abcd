"""PNG figures to inspect preprocessing: before/after with the brain mask, and registration checkerboards.

Written with SimpleITK's PNG writer on numpy composites (no plotting library), each three
orthogonal mid-planes of the 1 mm working grid, so axial, coronal and sagittal alignment
can all be judged at a glance.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def _window(plane: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(plane, [1, 99]) if plane.any() else (0.0, 1.0)
    return np.clip((plane - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32)


def _planes(array_zyx: np.ndarray, centre: tuple[int, int, int]) -> list[np.ndarray]:
    z, y, x = centre
    return [array_zyx[z], array_zyx[:, y, :][::-1], array_zyx[:, :, x][::-1]]


def _row(tiles: list[np.ndarray]) -> np.ndarray:
    height = max(t.shape[0] for t in tiles)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, 4), (0, 0))) for t in tiles]
    return np.concatenate(padded, axis=1)


def _centre(mask: np.ndarray | None, shape) -> tuple[int, int, int]:
    if mask is not None and mask.any():
        return tuple(int(v) for v in np.round(np.argwhere(mask).mean(axis=0)))
    return tuple(s // 2 for s in shape)


def before_after(before: sitk.Image, after: sitk.Image, mask: sitk.Image | None) -> np.ndarray:
    """Top row: the reference as given (on the working grid); bottom: prepared, brain mask outlined in green."""
    b, a = sitk.GetArrayFromImage(before), sitk.GetArrayFromImage(after)
    m = sitk.GetArrayFromImage(mask).astype(bool) if mask is not None else None
    centre = _centre(m, a.shape)
    top = [np.repeat(_window(p)[..., None], 3, axis=2) for p in _planes(b, centre)]
    bottom = []
    edges = _planes(_edges(m), centre) if m is not None else [None] * 3
    for plane, edge in zip(_planes(a, centre), edges):
        rgb = np.repeat(_window(plane)[..., None], 3, axis=2)
        if edge is not None:
            rgb[edge] = (0.1, 1.0, 0.2)
        bottom.append(rgb)
    top_row, bottom_row = _row(top), _row(bottom)
    width = max(top_row.shape[1], bottom_row.shape[1])
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in (top_row, bottom_row)]
    return (np.concatenate(rows, axis=0) * 255).round().astype(np.uint8)


def checkerboard(fixed: sitk.Image, moving: sitk.Image, square: int = 16) -> np.ndarray:
    """Alternating squares of the reference and the registered sequence: edges run on across squares when aligned."""
    f, m = sitk.GetArrayFromImage(fixed), sitk.GetArrayFromImage(moving)
    centre = _centre(f > np.percentile(f, 75), f.shape)
    tiles = []
    for pf, pm in zip(_planes(f, centre), _planes(m, centre)):
        yy, xx = np.indices(pf.shape)
        board = ((yy // square + xx // square) % 2).astype(bool)
        plane = np.where(board, _window(pf), _window(pm))
        tiles.append(np.repeat(plane[..., None], 3, axis=2))
    return (_row(tiles) * 255).round().astype(np.uint8)


def _edges(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    return mask & ~binary_erosion(mask)


def write_png(rgb: np.ndarray, path) -> None:
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(path))


__all__ = ["before_after", "checkerboard", "write_png"]
