"""What EMReDL hands the clinician (spec §7): three segments and a volume table in cm³ at a threshold τ.

``R̂seg = p ≥ τ``; "Core tumour" = R̂seg ∩ ROI1, "Infiltrated tumour" = R̂seg ∩ ROI2,
"Non-infiltrated oedema" = ROI2 \\ R̂seg. Changing τ needs no network: only the
probability map and the two masks.
"""

from __future__ import annotations

import numpy as np

from weakseg.models.card import LabelEntry

CORE, INFILTRATED, OEDEMA = 1, 2, 3
SEGMENTS = {CORE: "Core tumour", INFILTRATED: "Infiltrated tumour", OEDEMA: "Non-infiltrated oedema"}
COLOURS = {CORE: (0.9, 0.2, 0.2), INFILTRATED: (1.0, 0.6, 0.1), OEDEMA: (0.3, 0.7, 1.0)}
RT_ROIS = {CORE: ("GTV_Core", "GTV"), INFILTRATED: ("CTV_Infiltration", "CTV"), OEDEMA: ("Edema_NonInfiltrated", "CONTROL")}
"""RT Structure Set name and RTROIInterpretedType per segment: the infiltration goes out as a CTV candidate
(stated, spec §7), the oedema left outside it as a control structure, not an organ at risk. The CLI's names
file and the Slicer segments' type tags both come from here."""
CAVEATS = ("Research use only, not for clinical decisions. Infiltration is a candidate region for the CTV, not "
           "a diagnosis: the method was published on one centre's data, its threshold was tuned against later "
           "recurrence (a proxy for infiltration), and it depends on physiological MRI being present and "
           "co-registered.")


def emredl_labels() -> list[LabelEntry]:
    codes = {CORE: ("86049000", "Malignant neoplasm, primary"), INFILTRATED: ("86049000", "Malignant neoplasm, primary"),
             OEDEMA: ("79654002", "Edema")}
    return [LabelEntry(SEGMENTS[v], v, v, COLOURS[v], *codes[v]) for v in SEGMENTS]


def segment_labelmap(probability: np.ndarray, core: np.ndarray, flair: np.ndarray, tau: float) -> np.ndarray:
    """uint8: 1 core tumour, 2 infiltrated tumour, 3 non-infiltrated oedema, 0 elsewhere."""
    tumour = np.asarray(probability) >= tau
    core = np.asarray(core, bool)
    roi2 = np.asarray(flair, bool) & ~core
    out = np.zeros(tumour.shape, np.uint8)
    out[tumour & core] = CORE
    out[tumour & roi2] = INFILTRATED
    out[roi2 & ~tumour] = OEDEMA
    return out


def volume_table(labelmap: np.ndarray, core: np.ndarray, flair: np.ndarray, voxel_mm3: float) -> list[tuple[str, float]]:
    """(name, cm³) rows: the three segments, whole tumour, and the drawn core and FLAIR-minus-core."""
    cm3 = lambda mask: round(float(np.count_nonzero(mask)) * voxel_mm3 / 1000.0, 3)  # noqa: E731
    core = np.asarray(core, bool)
    return [(SEGMENTS[CORE], cm3(labelmap == CORE)), (SEGMENTS[INFILTRATED], cm3(labelmap == INFILTRATED)),
            ("Whole tumour", cm3(np.isin(labelmap, (CORE, INFILTRATED)))), (SEGMENTS[OEDEMA], cm3(labelmap == OEDEMA)),
            ("Drawn core (ROI1)", cm3(core)), ("FLAIR minus core (ROI2)", cm3(np.asarray(flair, bool) & ~core))]
