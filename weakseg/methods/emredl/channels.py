"""Input channels: finding them, checking they share one grid, and normalising them as in training.

Normalisation follows paper 000 §4.2 with the spec's §6.15 details: per channel, the
training case whose brain histogram is closest (L2) to the mean histogram is the
reference; its quantiles, rescaled to [0, 1], are stored with the model, and every case
(training or new) is quantile-mapped onto them inside the brain, then standardised with
the training mean and SD. New patients therefore see exactly the training mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.io.case import _stem, find_case_files
from weakseg.io.image import has_image_suffix, read_image, same_grid
from weakseg.preprocess import to_canonical

LEVELS = np.linspace(0.0, 1.0, 257)
"""Quantile levels of the stored histogram references."""
ROBUST = (0.5, 99.5)


def find_channel_files(folder: str | Path, names: list[str]) -> dict[str, Path]:
    """``{name: file}`` in a case folder: BraTS names for t1/t1c/t2/flair, ``*_<name>`` (or ``-<name>``) otherwise."""
    folder = Path(folder)
    structural = find_case_files(folder)
    found: dict[str, Path] = {}
    for name in names:
        if name in structural:
            found[name] = structural[name]
            continue
        pattern = re.compile(rf"[_-]{re.escape(name)}$", re.I)
        hits = [p for p in sorted(folder.iterdir()) if p.is_file() and has_image_suffix(p) and pattern.search(_stem(p))]
        if len(hits) > 1:
            raise WeakSegError(f"two files match channel '{name}': {hits[0].name} and {hits[1].name}", folder)
        if hits:
            found[name] = hits[0]
    return found


def read_channels(paths: dict[str, Path], names: list[str], where: str | Path) -> dict[str, sitk.Image]:
    """Read every channel named by the model, refusing a missing one or one on another grid (one line each)."""
    missing = [n for n in names if n not in paths]
    if missing:
        raise WeakSegError(f"channel(s) {', '.join(missing)} named by the model are missing "
                           f"(given: {', '.join(paths) or 'none'})", where)
    images = {name: read_image(paths[name]) for name in names}
    first = names[0]
    for name in names[1:]:
        check_same_grid(images[name], images[first], paths[name], f"channel '{first}'")
    return images


def describe(image: sitk.Image) -> str:
    return (f"size {'x'.join(map(str, image.GetSize()))}, spacing "
            f"{'x'.join(f'{s:g}' for s in image.GetSpacing())} mm")


def check_same_grid(image: sitk.Image, reference: sitk.Image, path, what: str) -> None:
    if not same_grid(image, reference):
        raise WeakSegError(f"is on a different grid than {what} ({describe(image)} vs {describe(reference)}); "
                           "register or resample the channels onto one grid first", path)


def canonical_array(image: sitk.Image) -> np.ndarray:
    """(z, y, x) float32 in LPS voxel order, so axial slices are the first array axis."""
    return sitk.GetArrayFromImage(to_canonical(image)).astype(np.float32)


# ------------------------------------------------------------------ histogram references


@dataclass
class ChannelReference:
    """One channel's stored normalisation: reference quantiles (in [0, 1]) and the training mean/SD after matching."""

    quantiles: list[float]
    mean: float
    std: float
    reference_case: str

    def to_dict(self) -> dict:
        return {"quantiles": [round(float(q), 6) for q in self.quantiles], "mean": round(self.mean, 6),
                "std": round(self.std, 6), "reference_case": self.reference_case}

    @classmethod
    def from_dict(cls, d: dict) -> "ChannelReference":
        return cls([float(q) for q in d["quantiles"]], float(d["mean"]), float(d["std"]), str(d["reference_case"]))


def quantile_map(values: np.ndarray, mask: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Histogram matching inside ``mask``: each value's quantile in its own image → the reference's value there."""
    out = np.zeros(values.shape, np.float32)
    inside = values[mask]
    if inside.size == 0:
        return out
    own = np.quantile(inside, LEVELS)
    # ties (flat regions) make ``own`` non-increasing in places; spread them so interp stays monotone
    own = own + np.arange(own.size) * 1e-9 * max(1.0, float(np.abs(own).max()))
    out[mask] = np.interp(inside, own, reference).astype(np.float32)
    return out


def fit_reference(name: str, volumes: list[tuple[str, np.ndarray, np.ndarray]], bins: int) -> ChannelReference:
    """Pick the reference case for one channel from (case id, values, brain mask) and measure the matched mean/SD."""
    inside = [v[m] for _, v, m in volumes]
    if any(x.size == 0 for x in inside):
        raise WeakSegError(f"channel '{name}': a training case has no brain voxels")
    lo = float(np.median([np.percentile(x, ROBUST[0]) for x in inside]))
    hi = float(np.median([np.percentile(x, ROBUST[1]) for x in inside]))
    if hi <= lo:
        hi = lo + 1.0
    hists = np.stack([np.histogram(np.clip(x, lo, hi), bins, (lo, hi), density=True)[0] for x in inside])
    best = int(np.argmin(((hists - hists.mean(0)) ** 2).sum(1)))
    ref = inside[best]
    q = np.quantile(ref, LEVELS)
    r_lo, r_hi = np.percentile(ref, ROBUST)
    scaled = np.clip((q - r_lo) / max(r_hi - r_lo, 1e-12), 0.0, 1.0)
    matched = np.concatenate([quantile_map(v, m, scaled)[m] for _, v, m in volumes])
    return ChannelReference(scaled.tolist(), float(matched.mean()), float(matched.std() or 1.0), volumes[best][0])


def normalise(values: np.ndarray, mask: np.ndarray, ref: ChannelReference) -> np.ndarray:
    """Histogram-match to the stored reference, then standardise; 0 outside the brain."""
    matched = quantile_map(values, mask, np.asarray(ref.quantiles, np.float64))
    return np.where(mask, (matched - ref.mean) / ref.std, 0.0).astype(np.float32)
