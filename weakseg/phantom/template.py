"""Real anatomy for the phantom: nilearn's MNI152 (2009a symmetric) template on a BraTS grid.

nilearn ships the 1 mm T1, grey- and white-matter maps inside its wheel, so nothing is
downloaded. The template is already skull-stripped; it is flipped from RAS voxel order
to the LPS order BraTS arrays have (x → left, y → posterior) and placed, without
interpolation, where a BraTS brain sits in its 240 × 240 × 155 1 mm grid.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
from scipy import ndimage as ndi

from weakseg.errors import WeakSegError
from weakseg.phantom.anatomy import BrainModel
from weakseg.phantom.config import PhantomConfig

BRATS_SHAPE = (155, 240, 240)
BRATS_SPACING = (1.0, 1.0, 1.0)
BRATS_BRAIN_CENTRE = (None, 134, 119)
"""(y, x) voxel where BraTS 2018 brains are centred (mean over the cases in shared/data)."""
BRATS_BRAIN_TOP = 143
"""The slice BraTS brains reach at the vertex; below, their lowest slices cut through the brainstem."""


def _require_nilearn():
    if importlib.util.find_spec("nilearn") is None:
        raise WeakSegError("the MNI152 phantom needs nilearn; install it with: pip install weakseg[template]")
    from nilearn import datasets

    return datasets


def _mni_arrays() -> dict[str, np.ndarray]:
    """T1, GM, WM and brain mask as float32 arrays in (z, y, x) LPS order."""
    datasets = _require_nilearn()
    loaders = {"t1": datasets.load_mni152_template, "gm": datasets.load_mni152_gm_template,
               "wm": datasets.load_mni152_wm_template, "mask": datasets.load_mni152_brain_mask}
    out = {}
    for name, loader in loaders.items():
        image = loader(resolution=1)
        affine = np.asarray(image.affine)
        if not np.allclose(np.abs(np.diag(affine)[:3]), 1.0) or not np.allclose(affine[:3, :3], np.diag(np.diag(affine)[:3])):
            raise WeakSegError(f"unexpected MNI152 template geometry from nilearn (affine {affine.tolist()})")
        data = np.asarray(image.dataobj, dtype=np.float32)  # (i, j, k)
        # LPS voxel order: i must grow to the left, j to the back, k upwards
        signs = np.sign(np.diag(affine)[:3])
        flips = tuple(axis for axis, wanted in enumerate((-1, -1, 1)) if signs[axis] != wanted)
        data = np.flip(data, axis=flips) if flips else data
        out[name] = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    return out


def _place(array: np.ndarray, offset: tuple[int, int, int]) -> np.ndarray:
    """Copy ``array`` into a BraTS-shaped volume at ``offset`` (z, y, x), cropping what falls outside."""
    out = np.zeros(BRATS_SHAPE, np.float32)
    src, dst = [], []
    for n_in, n_out, off in zip(array.shape, BRATS_SHAPE, offset):
        lo, hi = max(0, off), min(n_out, off + n_in)
        dst.append(slice(lo, hi))
        src.append(slice(lo - off, hi - off))
    out[tuple(dst)] = array[tuple(src)]
    return out


def mni152_brain(config: PhantomConfig) -> tuple[BrainModel, tuple[int, int, int], tuple[float, float, float]]:
    """The MNI brain as a ``BrainModel`` with its real T1 (``model.t1``), and the grid's shape and spacing.

    The field of view is always BraTS's 240 × 240 × 155 mm: ``config.shape`` sets the number of
    voxels (the BraTS 155 × 240 × 240 at 1 mm by default) and the spacing follows from it.
    """
    model = _mni152_on_brats_grid()
    shape = tuple(int(n) for n in config.shape)
    if shape == BRATS_SHAPE:
        return model, BRATS_SHAPE, BRATS_SPACING
    if len(shape) != 3 or min(shape) < 8:
        raise WeakSegError(f"phantom shape {shape} is too small; need (z, y, x) with every side >= 8")
    factors = [n / m for n, m in zip(shape, BRATS_SHAPE)]
    zoom = lambda a, order: ndi.zoom(a, factors, order=order, mode="nearest", grid_mode=True)  # noqa: E731
    mask = zoom(model.mask.astype(np.float32), 1) > 0.5
    fractions = np.stack([zoom(f, 1) for f in model.fractions]) * mask
    spacing_zyx = np.array(BRATS_SHAPE) / np.array(shape) * np.array(BRATS_SPACING)
    small = BrainModel(mask=mask, fractions=fractions.astype(np.float32), centre_mm=model.centre_mm,
                       semi_axes_mm=model.semi_axes_mm, t1=(zoom(model.t1, 1) * mask).astype(np.float32))
    return small, shape, tuple(float(v) for v in spacing_zyx[::-1])


@functools.lru_cache(maxsize=1)
def _mni152_on_brats_grid() -> BrainModel:
    """Cached (about 200 MB): the template never changes, and loading it is most of a case's cost."""
    mni = _mni_arrays()
    mask = mni["mask"] > 0.5
    idx = np.argwhere(mask)
    lo, hi = idx.min(axis=0), idx.max(axis=0)
    centre = (lo + hi) / 2
    offset = (int(BRATS_BRAIN_TOP - hi[0]), int(round(BRATS_BRAIN_CENTRE[1] - centre[1])), int(round(BRATS_BRAIN_CENTRE[2] - centre[2])))
    placed = {name: _place(values, offset) for name, values in mni.items()}
    mask = placed["mask"] > 0.5
    gm = np.clip(placed["gm"], 0, 1) * mask
    wm = np.clip(placed["wm"], 0, 1) * mask
    total = gm + wm
    over = total > 1
    gm[over] /= total[over]
    wm[over] /= total[over]
    csf = np.clip(1.0 - gm - wm, 0, 1) * mask
    fractions = np.stack([csf, gm, wm]).astype(np.float32)

    t1 = placed["t1"] * mask
    wm_level = float(np.median(t1[wm > 0.9]))
    brain_idx = np.argwhere(mask)
    b_lo, b_hi = brain_idx.min(axis=0), brain_idx.max(axis=0)
    grid_centre = (np.array(BRATS_SHAPE) - 1) / 2
    model = BrainModel(mask=mask, fractions=fractions,
                       centre_mm=((b_lo + b_hi) / 2 - grid_centre) * np.array(BRATS_SPACING),
                       semi_axes_mm=(b_hi - b_lo) / 2 * 0.95 * np.array(BRATS_SPACING),
                       t1=(t1 / wm_level).astype(np.float32))  # real T1 contrast, white matter = 1
    return model
