"""Coded concepts, colours and RT ROI Interpreted Types for every class WeakSeg exports.

Codes are SNOMED CT (scheme ``SCT``) as used by DICOM's segmentation code lists (CID 7140
family); most come from pydicom's bundled code dictionary. Laterality is carried by the
ROI name (TG-263 ``_L``/``_R``), not by a modifier, so every code stays a plain
Code Sequence item that any planning system can read.

Interpreted types: tumour sub-regions that are gross disease are ``GTV``; oedema is
``CTV`` because the T2/FLAIR abnormality is the basis of the glioma CTV in RTOG/NRG
guidance — a planner must still review it; organs are ``ORGAN``. All of these can be
overridden per export through a names JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from weakseg.brats import SUBREGIONS


@dataclass(frozen=True)
class Code:
    value: str
    meaning: str
    scheme: str = "SCT"


ANATOMICAL_STRUCTURE = Code("123037004", "Anatomical Structure")  # DICOM CID 7150, as in Slicer's master list
MORPHOLOGICALLY_ALTERED = Code("49755003", "Morphologically Altered Structure")

INTERPRETED_TYPES = ("EXTERNAL", "PTV", "CTV", "GTV", "TREATED_VOLUME", "IRRAD_VOLUME", "OAR", "BOLUS",
                     "AVOIDANCE", "ORGAN", "MARKER", "REGISTRATION", "ISOCENTER", "CONTRAST_AGENT", "CAVITY",
                     "SUPPORT", "FIXATION", "DOSE_REGION", "CONTROL", "")


@dataclass(frozen=True)
class RoiStyle:
    """Everything an exporter writes about one ROI besides its contours."""

    name: str                       # ROI name (TG-263 where one exists)
    colour: tuple[int, int, int]    # RGB 0-255
    interpreted_type: str           # RT ROI Interpreted Type
    code: Code | None               # RT ROI Identification Code / SEG property type
    category: Code = ANATOMICAL_STRUCTURE

    def renamed(self, name: str) -> "RoiStyle":
        return replace(self, name=name)


def _rgb(colour: tuple[float, float, float]) -> tuple[int, int, int]:
    return tuple(int(round(255 * min(max(c, 0.0), 1.0))) for c in colour)  # type: ignore[return-value]


_TUMOUR_NAMES = {"necrosis": ("GTV_Necrosis", "GTV"), "edema": ("CTV_Edema", "CTV"), "enhancing": ("GTV_Enhancing", "GTV")}

TUMOUR: dict[str, RoiStyle] = {
    key: RoiStyle(_TUMOUR_NAMES[key][0], _rgb(colour), _TUMOUR_NAMES[key][1], Code(code, meaning), MORPHOLOGICALLY_ALTERED)
    for key, (colour, (code, meaning)) in SUBREGIONS.items()
}


REGIONS: dict[str, RoiStyle] = {
    # BraTS evaluation regions (weakseg.brats.REGIONS), as the segment command writes them
    "WT": RoiStyle("CTV_WholeTumour", (255, 170, 60), "CTV", Code("108369006", "Neoplasm"), MORPHOLOGICALLY_ALTERED),
    "TC": RoiStyle("GTV_TumourCore", (230, 80, 60), "GTV", Code("108369006", "Neoplasm"), MORPHOLOGICALLY_ALTERED),
    # ET is the enhancing sub-region itself: the ROI table maps "ET" to "enhancing"
}


def _organ(name: str, colour: tuple[int, int, int], value: str, meaning: str) -> tuple[str, RoiStyle]:
    return name, RoiStyle(name, colour, "ORGAN", Code(value, meaning))


ORGANS: dict[str, RoiStyle] = dict([
    _organ("Brain", (250, 250, 225), "12738006", "Brain"),
    _organ("Brainstem", (240, 200, 80), "15926001", "Brainstem"),
    _organ("OpticChiasm", (60, 160, 60), "244453006", "Optic chiasm"),
    _organ("OpticNrv_L", (250, 230, 50), "18234004", "Optic nerve"),
    _organ("OpticNrv_R", (240, 180, 30), "18234004", "Optic nerve"),
    _organ("Eye_L", (160, 110, 240), "81745001", "Eye"),
    _organ("Eye_R", (120, 80, 220), "81745001", "Eye"),
    _organ("Lens_L", (200, 240, 250), "78076003", "Lens"),
    _organ("Lens_R", (150, 220, 240), "78076003", "Lens"),
    _organ("Cochlea_L", (250, 120, 200), "80169004", "Cochlea"),
    _organ("Cochlea_R", (220, 80, 170), "80169004", "Cochlea"),
    _organ("Hippocampus_L", (220, 216, 20), "5366008", "Hippocampus"),
    _organ("Hippocampus_R", (200, 190, 20), "5366008", "Hippocampus"),
    _organ("Parotid_L", (60, 200, 220), "45289007", "Parotid gland"),
    _organ("Parotid_R", (40, 160, 200), "45289007", "Parotid gland"),
    _organ("Glnd_Submand_L", (110, 220, 130), "54019009", "Submandibular gland"),
    _organ("Glnd_Submand_R", (80, 190, 100), "54019009", "Submandibular gland"),
    _organ("Glnd_Lacrimal_L", (230, 150, 100), "13561001", "Lacrimal gland"),
    _organ("Glnd_Lacrimal_R", (200, 120, 80), "13561001", "Lacrimal gland"),
    _organ("SpinalCord", (250, 250, 0), "2748008", "Spinal cord"),
    _organ("SpinalCanal", (180, 180, 60), "61853006", "Spinal canal"),
    _organ("Bone_Mandible", (230, 220, 200), "91609006", "Mandible"),
    _organ("Lung_L", (190, 140, 140), "39607008", "Lung"),
    _organ("Lung_R", (170, 120, 120), "39607008", "Lung"),
    _organ("Pituitary", (250, 100, 100), "56329008", "Pituitary"),
])

STYLES: dict[str, RoiStyle] = {**TUMOUR, **REGIONS, **ORGANS}
"""Class key → style. Tumour keys are brats.SUBREGIONS keys and brats.REGIONS; organ keys are TG-263 names."""


def default_style(name: str, index: int) -> RoiStyle:
    """Style for a class nobody coded: a distinct colour, no code, no interpreted type."""
    palette = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40)]
    return RoiStyle(name, palette[index % len(palette)], "", None)
