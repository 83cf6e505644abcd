"""The organs-at-risk label table: labelmap value, TG-263 name, thesis class, colour and SNOMED CT code.

One table serves the phantom heads that paint these organs and the OAR model that outputs them,
so it lives here, free of imports, rather than in either.
"""

from __future__ import annotations

_SCT_LEFT = {"code": "7771000", "meaning": "Left"}
_SCT_RIGHT = {"code": "24028007", "meaning": "Right"}


def _entry(value, name, thesis_class, color, code, meaning, laterality=None):
    return {"value": value, "name": name, "thesis_class": thesis_class, "color": list(color),
            "snomed": {"scheme": "SCT", "code": code, "meaning": meaning}, "laterality": laterality}


LABEL_TABLE: list[dict] = [
    # value, TG-263 name, the thesis's (non-exclusive) class, RGB 0-255, SNOMED CT (as in DICOM's code tables)
    _entry(1, "Brain", "brain", (250, 250, 225), "12738006", "Brain"),
    _entry(2, "Brainstem", "brainstem", (145, 92, 210), "119238007", "Brain stem"),
    _entry(3, "Eye_L", "eye", (60, 200, 60), "81745001", "Eye", _SCT_LEFT),
    _entry(4, "Eye_R", "eye", (30, 150, 30), "81745001", "Eye", _SCT_RIGHT),
    _entry(5, "Lens_L", "lens", (255, 240, 80), "78076003", "Lens", _SCT_LEFT),
    _entry(6, "Lens_R", "lens", (220, 200, 40), "78076003", "Lens", _SCT_RIGHT),
    _entry(7, "OpticNrv_L", "optic nerve", (240, 40, 40), "18234004", "Optic nerve", _SCT_LEFT),
    _entry(8, "OpticNrv_R", "optic nerve", (190, 20, 20), "18234004", "Optic nerve", _SCT_RIGHT),
    _entry(9, "OpticChiasm", "optic chiasm", (255, 130, 0), "244453006", "Optic chiasm"),
    _entry(10, "Pituitary", "pituitary gland", (255, 110, 180), "56329008", "Pituitary"),
    _entry(11, "Hippocampus_L", "hippocampus", (255, 170, 60), "5366008", "Hippocampus", _SCT_LEFT),
    _entry(12, "Hippocampus_R", "hippocampus", (220, 140, 40), "5366008", "Hippocampus", _SCT_RIGHT),
]
