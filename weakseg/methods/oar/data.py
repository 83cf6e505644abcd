"""OAR training volumes from a dataset of case folders whose organs come from RT-Structs.

A case folder holds a T1 or T1c image and a weak-label store written by ``weakseg
import-rtstruct --store``: each contoured organ is a full mask named by the ROI table
(TG-263: Eye_L, OpticNrv_R, ...), and classes the structure set did not contour are declared
but have no mask: they stay unknown. A bilateral class is known only when both sides are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.oar.classes import CLASSES, ORGANS
from weakseg.oar.intensity import normalise_head
from weakseg.phantom.label_sources import BIT, OARVolume


def _on_1mm(image: sitk.Image, nearest: bool) -> sitk.Image:
    from weakseg.preprocess import resample_spacing, to_canonical

    image = to_canonical(image)
    if any(abs(s - 1.0) > 1e-3 for s in image.GetSpacing()):
        image = resample_spacing(image, (1.0, 1.0, 1.0), nearest=nearest)
    return image


def pick_input(images: dict, inputs: tuple[str, ...], where) -> str:
    for name in inputs:
        if name in images:
            return name
    raise WeakSegError(f"case has none of the sequences {', '.join(inputs)} (present: {', '.join(images) or 'none'})",
                       where)


def model_input(case, card) -> str:
    """The sequence an OAR model reads from ``case``: the first of its card's ``inference.inputs`` present."""
    return pick_input(case.images, tuple((card.inference or {}).get("inputs", ("t1c", "t1"))), case.case_id)


def store_volume(folder: str | Path, inputs: tuple[str, ...] = ("t1c", "t1")) -> OARVolume:
    """An ``OARVolume`` (real image) from a case folder with an RT-Struct-imported weak-label store."""
    from weakseg.io.case import load_case
    from weakseg.io.image import copy_geometry
    from weakseg.labels import WeakLabelStore

    folder = Path(folder)
    case = load_case(folder)
    name = pick_input(case.images, inputs, folder)
    if not WeakLabelStore.exists(folder):
        raise WeakSegError("case has no organ labels (weaklabels/labels.json); import its RT-Struct with "
                           "'weakseg import-rtstruct --store'", folder)
    store = WeakLabelStore.open(folder, create=False)
    store.verify()
    image = _on_1mm(case.images[name], nearest=False)
    array = normalise_head(sitk.GetArrayFromImage(image))
    bits = np.zeros(array.shape, np.uint8)
    masks = {organ.name: store.full_mask(organ.name) for organ in ORGANS if organ.name in store.classes}
    known = []
    for cls in CLASSES:
        members = [o.name for o in ORGANS if o.thesis_class == cls]
        have = [m for m in members if masks.get(m) is not None]
        if not have or len(have) < len(members):
            continue  # not contoured (or one side only): unknown for the whole class
        for member in have:
            mask = copy_geometry(np.asarray(masks[member], np.uint8), case.images[name])
            resampled = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
            bits[sitk.GetArrayViewFromImage(resampled) > 0] |= BIT[cls]
        known.append(cls)
    if not known:
        raise WeakSegError(f"no organ of the OAR classes is contoured (store classes: {', '.join(store.classes)})", folder)
    return OARVolume(case.case_id, bits, tuple(known), image=array.astype(np.float16)).finish()
