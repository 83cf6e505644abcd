"""EMReDL training cases: every channel, the region map and the brain, cropped to the brain box.

Channels are found by name in the case folder (``*_rcbv.nii.gz`` ...), must share one
grid, and are taken in LPS voxel order so axial slices are the first array axis. Regions
come from the case's weak-label store: full masks 'core' and 'flair' as the annotator
draws them (ROI2/ROI3 derived), else the store's 'regions' map; with ``derive_weak`` from
the BraTS labels (ROI1 = TC, FLAIR = WT) for experiments. An optional 'necrosis' mask
(BraTS NCR with ``derive_weak``) marks the core's dead centre, which stage A can leave out
of its tumour examples: necrosis is core by label but not tumour by physiology.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.io.case import find_case_files
from weakseg.io.image import read_image
from weakseg.labels.schema import ROI1, ROI2, ROI3
from weakseg.methods.emredl import channels as ch
from weakseg.methods.emredl.config import EMReDLConfig
from weakseg.methods.emredl.regions import regions_from_masks
from weakseg.preprocess import bounding_box, brain_mask, crop, to_canonical


@dataclass
class RawCase:
    """Channels (name → (z, y, x) float32), regions and brain, canonical and cropped to the brain box."""

    case_id: str
    arrays: dict[str, np.ndarray]
    regions: np.ndarray
    brain: np.ndarray
    necrosis: np.ndarray | None = None


@dataclass
class EMCase:
    """A normalised case: stack (C, z, h, w); regions; stage-A prior and vacuity and the E-step target q on ROI2."""

    case_id: str
    stack: np.ndarray
    regions: np.ndarray
    prior: np.ndarray = field(default=None)  # type: ignore[assignment]
    vacuity: np.ndarray = field(default=None)  # type: ignore[assignment]
    q: np.ndarray = field(default=None)  # type: ignore[assignment]
    necrosis: np.ndarray | None = None
    features: np.ndarray | None = None
    """(d, z, h, w) stage-A feature volume (``prior_volume``); None: the prior channels of ``stack``."""
    full = False  # never voxel-labelled inside ROI2 (what the shared trainer records)

    @property
    def slices(self) -> np.ndarray:
        return np.flatnonzero((self.regions > 0).reshape(self.regions.shape[0], -1).any(1))


def brain_of(arrays: dict[str, np.ndarray], config: EMReDLConfig) -> np.ndarray:
    """Non-zero voxels of the structural channels (all channels if none), holes filled: the same in training and use."""
    names = config.structural or config.names
    return brain_mask([arrays[n] for n in names])


def _canonical_mask(array: np.ndarray, grid_image: sitk.Image) -> np.ndarray:
    image = sitk.GetImageFromArray(np.asarray(array, np.uint8))
    image.CopyInformation(grid_image)
    return sitk.GetArrayFromImage(to_canonical(image))


def _store_regions(folder: Path, reference: sitk.Image, brain: np.ndarray,
                   config: EMReDLConfig) -> tuple[np.ndarray, np.ndarray | None]:
    from weakseg.labels import WeakLabelStore

    if not WeakLabelStore.exists(folder):
        raise WeakSegError("case has no weak labels (weaklabels/labels.json) with the core and FLAIR masks or "
                           "regions; draw them, or set derive_weak to take them from BraTS labels", folder)
    store = WeakLabelStore.open(folder, create=False)
    store.verify()
    if not store.grid.matches(reference):
        raise WeakSegError("weak labels are on a different grid than the channels", store.path)
    full = {name: store.full_mask(name) for name in ("core", "flair", "necrosis") if name in store.classes}
    full = {k: _canonical_mask(v, reference).astype(bool) for k, v in full.items() if v is not None}
    necrosis = full.get("necrosis")
    if "core" in full and "flair" in full:
        return regions_from_masks(full["core"], full["flair"], brain, config.roi3_erosion, store.path), necrosis
    regions = store.regions()
    if regions is None:
        raise WeakSegError("weak labels hold neither 'core' and 'flair' masks nor a regions map", store.path)
    return _canonical_mask(regions, reference), necrosis


def _derived_regions(folder: Path, reference: sitk.Image, brain: np.ndarray,
                     config: EMReDLConfig) -> tuple[np.ndarray, np.ndarray]:
    from weakseg import brats

    seg = find_case_files(folder).get("seg")
    if seg is None:
        raise WeakSegError("derive_weak needs BraTS labels (*_seg) to take ROI1 = TC and FLAIR = WT from", folder)
    image = read_image(seg)
    ch.check_same_grid(image, reference, seg, "the channels")
    labels = sitk.GetArrayFromImage(to_canonical(image))
    region = brats.regions(labels)
    regions = regions_from_masks(region["TC"], region["WT"], brain, config.roi3_erosion, seg)
    return regions, labels == brats.NCR


def load_raw_case(folder: str | Path, config: EMReDLConfig, derive: bool = False) -> RawCase:
    folder = Path(folder)
    images = ch.read_channels(ch.find_channel_files(folder, config.names), config.names, folder)
    reference = images[config.names[0]]
    arrays = {name: ch.canonical_array(image) for name, image in images.items()}
    brain = brain_of(arrays, config)
    regions, necrosis = (_derived_regions if derive else _store_regions)(folder, reference, brain, config)
    regions = np.where(brain, regions, 0).astype(np.uint8)
    if necrosis is not None:
        necrosis = necrosis & (regions == ROI1)
    if not (regions == ROI1).any() or not (regions == ROI3).any():
        raise WeakSegError("case needs both core (ROI1) and normal-appearing (ROI3) voxels to train on", folder)
    box = bounding_box(brain)
    return RawCase(folder.name, {k: np.ascontiguousarray(crop(v, box)) for k, v in arrays.items()},
                   np.ascontiguousarray(crop(regions, box)), np.ascontiguousarray(crop(brain, box)),
                   None if necrosis is None else np.ascontiguousarray(crop(necrosis, box)))


def fit_references(cases: list[RawCase], config: EMReDLConfig) -> dict[str, ch.ChannelReference]:
    return {name: ch.fit_reference(name, [(c.case_id, c.arrays[name], c.brain) for c in cases], config.histogram_bins)
            for name in config.names}


def normalise_case(raw: RawCase, refs: dict[str, ch.ChannelReference], config: EMReDLConfig) -> EMCase:
    stack = np.stack([ch.normalise(raw.arrays[n], raw.brain, refs[n]) for n in config.names])
    features = prior_volume(stack, raw.brain, config.names, config.prior_channels, config.prior_context)
    return EMCase(raw.case_id, stack, raw.regions, necrosis=raw.necrosis, features=features)


def prior_volume(stack: np.ndarray, brain: np.ndarray, names: list[str], prior_channels: list[str],
                 context: list[float]) -> np.ndarray:
    """Stage A's (d, z, h, w) inputs: the prior channels, then with ``context`` each one's local mean per scale.

    The local mean is a Gaussian of standard deviation sigma (voxels) taken inside the brain only
    (normalised convolution: nothing outside the brain leaks in), 0 outside. It departs from the
    paper's per-voxel features: the acquired DTI/DSC maps are noisy voxel by voxel while the
    tumour-cell density they reflect is spatially smooth (spec §6.1).
    """
    from scipy import ndimage as ndi

    own = stack[[names.index(n) for n in prior_channels]].astype(np.float32)
    if not context:
        return own
    inside = brain.astype(np.float32)
    out = [own]
    for sigma in context:
        weight = np.maximum(ndi.gaussian_filter(inside, sigma), 1e-6)
        out.append(np.stack([np.where(brain, ndi.gaussian_filter(c * inside, sigma) / weight, 0.0) for c in own])
                   .astype(np.float32))
    return np.concatenate(out)


def prior_positives(case: EMCase, config: EMReDLConfig) -> np.ndarray:
    """Stage A's tumour examples: ROI1, less the drawn necrosis (``prior_exclude_necrosis``) and, with
    ``prior_roi1_erosion``, less its rim, whose physiology the coarse DTI/DSC maps mix with the oedema around it.

    A step that would leave no example is skipped.
    """
    from scipy import ndimage as ndi

    positives = case.regions == ROI1
    if config.prior_exclude_necrosis and case.necrosis is not None and (positives & ~case.necrosis).any():
        positives &= ~case.necrosis
    if config.prior_roi1_erosion:
        core = ndi.binary_erosion(case.regions == ROI1, iterations=config.prior_roi1_erosion)
        if (positives & core).any():
            positives &= core
    return positives


def prior_features(case: EMCase, config: EMReDLConfig, where: np.ndarray) -> np.ndarray:
    """(N, d) stage-A features of the voxels in ``where``."""
    if case.features is None:
        case.features = prior_volume(case.stack, case.stack.any(0), config.names, config.prior_channels,
                                     config.prior_context)
    return case.features[:, where].T.astype(np.float32)


__all__ = ["EMCase", "RawCase", "fit_references", "load_raw_case", "normalise_case", "prior_features", "prior_positives",
           "prior_volume",
           "ROI1", "ROI2", "ROI3"]
