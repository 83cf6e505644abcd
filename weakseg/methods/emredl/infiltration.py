"""Applying a trained EMReDL model to one patient: the path shared by ``weakseg infiltration`` and Slicer.

Inputs are checked before any work, each failure one line naming the file: a channel the
model needs is missing, channels or masks lie on different grids, the core is not inside
the FLAIR mask. The network needs only the channels; the masks split its tumour map into
core and infiltration and give the burden (spec §7).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.methods.emredl import channels as ch
from weakseg.methods.emredl import outputs
from weakseg.methods.emredl.config import FALLBACK_WARNING, EMReDLConfig
from weakseg.methods.emredl.regions import check_core_in_flair
from weakseg.preprocess import bounding_box, crop, from_canonical, to_canonical, uncrop

log = logging.getLogger("weakseg")


@dataclass
class Inputs:
    """Checked inputs on one grid: channels by name, the two masks (bool, array order of the grid), optional brain."""

    images: dict[str, sitk.Image]
    core: np.ndarray
    flair: np.ndarray
    brain: np.ndarray | None = None

    @property
    def reference(self) -> sitk.Image:
        return next(iter(self.images.values()))


@dataclass
class InfiltrationResult:
    """Tumour probability (and optionally stage A's prior and vacuity) on the reference grid, with the masks."""

    reference: sitk.Image
    probability: np.ndarray
    core: np.ndarray
    flair: np.ndarray
    tau: float
    model_id: str
    prior: np.ndarray | None = None
    vacuity: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def voxel_mm3(self) -> float:
        return float(np.prod(self.reference.GetSpacing()))

    def labelmap(self, tau: float | None = None) -> np.ndarray:
        return outputs.segment_labelmap(self.probability, self.core, self.flair, self.tau if tau is None else tau)

    def volumes(self, tau: float | None = None) -> list[tuple[str, float]]:
        return outputs.volume_table(self.labelmap(tau), self.core, self.flair, self.voxel_mm3)

    def image(self, array: np.ndarray) -> sitk.Image:
        image = sitk.GetImageFromArray(array)
        image.CopyInformation(self.reference)
        return image


def model_config(model) -> EMReDLConfig:
    if model.card.method != "emredl":
        raise WeakSegError(f"model '{model.card.id}' is a '{model.card.method}' model, not an EMReDL (infiltration) model",
                           model.folder)
    pre = model.card.preprocessing
    return EMReDLConfig(channels=pre["channels"], tau=float(model.card.inference.get("tau", 0.5)))


def _mask(image: sitk.Image, reference: sitk.Image, path, what: str) -> np.ndarray:
    ch.check_same_grid(image, reference, path, "the channels")
    array = sitk.GetArrayFromImage(image)
    if not np.isin(np.unique(array), (0, 1)).all() and what != "brain":
        log.info("%s: %s mask has labels other than 0/1; every non-zero voxel counts", path, what)
    return array != 0


def read_inputs(model, channel_paths: dict[str, str | Path], core_path: str | Path, flair_path: str | Path,
                brain_path: str | Path | None = None) -> Inputs:
    """Read and check files (missing channel, grids, core inside FLAIR); nothing is computed yet."""
    from weakseg.io.image import read_image

    config = model_config(model)
    paths = {k: Path(v) for k, v in channel_paths.items()}
    images = ch.read_channels(paths, config.names, model.folder / "card.json")
    reference = images[config.names[0]]
    core = _mask(read_image(core_path), reference, core_path, "core")
    flair = _mask(read_image(flair_path), reference, flair_path, "FLAIR")
    check_core_in_flair(core, flair, core_path)
    brain = _mask(read_image(brain_path), reference, brain_path, "brain") if brain_path else None
    return Inputs(images, core, flair, brain)


def check_inputs(model, inputs: Inputs) -> None:
    """The same checks for inputs already in memory (Slicer nodes)."""
    config = model_config(model)
    missing = [n for n in config.names if n not in inputs.images]
    if missing:
        raise WeakSegError(f"channel(s) {', '.join(missing)} named by model '{model.card.id}' are missing "
                           f"(given: {', '.join(inputs.images) or 'none'})")
    reference = inputs.images[config.names[0]]
    for name in config.names[1:]:
        ch.check_same_grid(inputs.images[name], reference, f"channel '{name}'", f"channel '{config.names[0]}'")
    shape = reference.GetSize()[::-1]
    for what, mask in (("core", inputs.core), ("FLAIR", inputs.flair)):
        if mask.shape != shape:
            raise WeakSegError(f"the {what} mask is on a different grid than the channels ({mask.shape} vs {shape})")
    check_core_in_flair(inputs.core, inputs.flair)


def run_infiltration(model, inputs: Inputs, *, tau: float | None = None, with_prior: bool = False,
                     device: str = "auto", progress=None, cancel: threading.Event | None = None) -> InfiltrationResult:
    """Tumour probability of every voxel (U-Net on axial slices), optionally stage A's prior and vacuity on ROI2."""
    from weakseg.inference.engine import InferenceConfig, predict_slices, resolve_device
    from weakseg.methods.emredl.data import brain_of

    check_inputs(model, inputs)
    config = model_config(model)
    warnings = []
    if model.card.preprocessing.get("prior_fallback"):
        warnings.append(FALLBACK_WARNING)
    refs = {n: ch.ChannelReference.from_dict(d) for n, d in model.card.preprocessing["references"].items()}
    reference = inputs.images[config.names[0]]
    arrays = {n: ch.canonical_array(inputs.images[n]) for n in config.names}
    canon = lambda mask: sitk.GetArrayFromImage(to_canonical(_as_image(mask, reference))).astype(bool)  # noqa: E731
    brain = canon(inputs.brain) if inputs.brain is not None else brain_of(arrays, config)
    brain |= canon(inputs.flair)
    box = bounding_box(brain)
    cropped = crop(brain, box)
    stack = np.stack([ch.normalise(np.ascontiguousarray(crop(arrays[n], box)), cropped, refs[n]) for n in config.names])
    dev = resolve_device(device)
    probs, _ = predict_slices(model.network, stack, InferenceConfig(device=str(dev), tta=False), progress=progress,
                              cancel=cancel)
    shape = brain.shape
    probability = _restore(np.where(cropped, probs[1], 0.0).astype(np.float32), box, shape, reference)
    prior = vacuity = None
    if with_prior:
        from weakseg.methods.emredl import prior as stage_a

        roi2 = cropped & crop(canon(inputs.flair) & ~canon(inputs.core), box)
        from weakseg.methods.emredl.data import prior_volume

        pre = model.card.preprocessing
        features = prior_volume(stack, cropped, config.names, pre["prior_channels"], pre.get("prior_context", []))
        p, u = stage_a.predict(model.network.prior, features[:, roi2].T, dev)
        prior_c = np.zeros(cropped.shape, np.float32)
        vac_c = np.zeros(cropped.shape, np.float32)
        prior_c[roi2], vac_c[roi2] = p, u
        prior, vacuity = (_restore(a, box, shape, reference) for a in (prior_c, vac_c))
    return InfiltrationResult(reference, probability, np.asarray(inputs.core, bool), np.asarray(inputs.flair, bool),
                              config.tau if tau is None else float(tau), model.card.id, prior, vacuity, warnings)


def _as_image(mask: np.ndarray, reference: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(np.asarray(mask, np.uint8))
    image.CopyInformation(reference)
    return image


def _restore(cropped: np.ndarray, box, canonical_shape, reference: sitk.Image) -> np.ndarray:
    """A cropped canonical array back onto the reference grid's own voxel order."""
    full = uncrop(cropped, box, canonical_shape)
    canonical_grid = to_canonical(reference)
    image = sitk.GetImageFromArray(full)
    image.CopyInformation(canonical_grid)
    return sitk.GetArrayFromImage(from_canonical(image, reference))
