"""Terminology entries (DICOM/SNOMED CT codes) for segments, in Slicer's serialised form.

Slicer stores a segment's terminology as one string of seven ``~``-separated fields:
context, category, type, type modifier, anatomic context, anatomic region, region modifier;
each code is ``scheme^value^meaning``. Writing the string directly needs no terminology
files, so it works the same in Slicer and on slicer-core.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTEXT = "Segmentation category and type - DICOM master list"
ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"

TUMOUR_CATEGORY = ("SCT", "49755003", "Morphologically Altered Structure")
ORGAN_CATEGORY = ("SCT", "123037004", "Anatomical Structure")  # Slicer's DICOM master list
MASTER_LIST_MEANINGS = {  # code meanings as SegmentationCategoryTypeModifier-DICOM-Master.json spells them
    "86049000": "Neoplasm, Primary",
    "6574001": "Necrosis",
    "79654002": "Edema",
}
BRAIN_REGION = ("SCT", "12738006", "Brain")

Code = tuple[str, str, str]


def _code(code: Code | None) -> str:
    if not code:
        return "^^"
    scheme, value, meaning = code
    for part in code:
        if "~" in part or "^" in part:
            raise ValueError(f"terminology code part {part!r} contains a separator (~ or ^)")
    return f"{scheme}^{value}^{meaning}"


@dataclass(frozen=True)
class Terminology:
    category: Code
    type: Code
    region: Code | None = None
    type_modifier: Code | None = None
    region_modifier: Code | None = None

    def entry(self) -> str:
        """The string ``vtkSegment.SetTerminology`` expects."""
        return "~".join([CONTEXT, _code(self.category), _code(self.type), _code(self.type_modifier),
                         ANATOMIC_CONTEXT, _code(self.region), _code(self.region_modifier)])

    @classmethod
    def parse(cls, entry: str) -> "Terminology":
        fields = entry.split("~")
        if len(fields) != 7:
            raise ValueError(f"terminology entry has {len(fields)} fields, expected 7: {entry!r}")

        def code(text: str) -> Code | None:
            parts = tuple(text.split("^"))
            return None if not any(parts) else parts  # type: ignore[return-value]

        return cls(code(fields[1]), code(fields[2]), code(fields[5]), code(fields[3]), code(fields[6]))


def for_label(snomed_code: str, snomed_meaning: str, *, tumour: bool) -> Terminology | None:
    """Terminology of a model output label, in the codes and meanings of Slicer's DICOM master list
    (category, type): None when the label carries no code."""
    if not snomed_code:
        return None
    category = TUMOUR_CATEGORY if tumour else ORGAN_CATEGORY
    region = BRAIN_REGION if tumour else None
    meaning = MASTER_LIST_MEANINGS.get(snomed_code, snomed_meaning)  # so Slicer's terminology selector matches
    return Terminology(category, ("SCT", snomed_code, meaning), region)
