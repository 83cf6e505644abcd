"""Write a phantom as a case folder that ``weakseg.io.load_case`` reads.

Every file is written atomically (temporary name, fsync, rename), so a crash leaves
either the previous file or the new one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg import brats
from weakseg.errors import WeakSegError
from weakseg.io.atomic import write_text_atomic
from weakseg.io.image import write_image
from weakseg.phantom.config import PhantomCase
from weakseg.phantom.head_oar import CLINICAL_BRAIN

NAMINGS = {
    # canonical name -> file suffix, and the separator before it
    "brats2018": ("_", {"flair": "flair", "t1": "t1", "t1c": "t1ce", "t2": "t2", "seg": "seg"}),
    "brats2021": ("-", {"flair": "t2f", "t1": "t1n", "t1c": "t1c", "t2": "t2w", "seg": "seg"}),
}


def case_files(case_id: str, naming: str) -> dict[str, str]:
    """File name per canonical sequence (and 'seg') in a BraTS naming."""
    if naming not in NAMINGS:
        raise WeakSegError(f"unknown naming '{naming}' (expected one of {', '.join(NAMINGS)})")
    sep, suffixes = NAMINGS[naming]
    return {name: f"{case_id}{sep}{suffix}.nii.gz" for name, suffix in suffixes.items()}


def _tumour_labels(phantom: PhantomCase, naming: str) -> sitk.Image:
    if naming == "brats2018":
        return phantom.labels
    values = brats.to_convention(sitk.GetArrayFromImage(phantom.labels), brats.BRATS2018, brats.BRATS2021)
    image = sitk.GetImageFromArray(values)
    image.CopyInformation(phantom.labels)
    return image


def write_case(phantom: PhantomCase, folder: str | Path, naming: str = "brats2018", *, physiology: bool = False) -> Path:
    """Write the sequences and labels into ``folder``; return the folder.

    A tumour case gets BraTS files (labels 1/2/4, or 1/2/3 in 2021 naming) and, with
    ``physiology=True``, ``<id>_<map>.nii.gz`` for every physiological map plus
    ``<id>_infiltration.nii.gz`` (``-`` instead of ``_`` in 2021 naming). A head case gets ``<id>_t1``, ``<id>_t2``, ``<id>_oar``
    and ``<id>_oar_labels.json``.
    """
    folder = Path(folder)
    written = write_case_files(phantom, folder, naming, physiology=physiology)
    return written[0].parent if written else folder


def write_case_files(phantom: PhantomCase, folder: str | Path, naming: str = "brats2018", *,
                     physiology: bool = False) -> list[Path]:
    """Like ``write_case`` but return every path written, in writing order."""
    folder = Path(folder)
    names = case_files(phantom.case_id, naming)
    if physiology and phantom.kind == "tumour" and not phantom.physiology:
        raise WeakSegError("this phantom was made without physiological maps (PhantomConfig(physiology=True))", folder)
    sep = NAMINGS[naming][0]
    written: list[Path] = []
    if phantom.kind == "head":
        for sequence, image in phantom.images.items():
            written.append(write_image(image, folder / names[sequence]))
        written.append(write_image(phantom.labels, folder / f"{phantom.case_id}_oar.nii.gz"))
        table = {"case": phantom.case_id, "labelmap": f"{phantom.case_id}_oar.nii.gz", "exclusive": True,
                 "note": "one label per voxel; the smaller organ wins where the thesis's classes overlap",
                 "clinical_structures": {"Brain": list(CLINICAL_BRAIN)},
                 "labels": phantom.label_table}
        target = folder / f"{phantom.case_id}_oar_labels.json"
        write_text_atomic(target, json.dumps(table, indent=2) + "\n")
        written.append(target)
        return written
    for sequence, image in phantom.images.items():
        written.append(write_image(image, folder / names[sequence]))
    written.append(write_image(_tumour_labels(phantom, naming), folder / names["seg"]))
    if physiology:
        for name, image in phantom.physiology.items():
            written.append(write_image(image, folder / f"{phantom.case_id}{sep}{name}.nii.gz"))
        if phantom.infiltration is not None:
            written.append(write_image(phantom.infiltration, folder / f"{phantom.case_id}{sep}infiltration.nii.gz"))
    return written


def label_volumes_ml(phantom: PhantomCase) -> dict[int, float]:
    """Volume (ml) of each non-zero label value."""
    arr = phantom.array("labels")
    voxel_ml = float(np.prod(phantom.labels.GetSpacing())) / 1000.0
    values, counts = np.unique(arr, return_counts=True)
    return {int(v): float(c) * voxel_ml for v, c in zip(values, counts) if v}
