"""Anatomical consistency of an OAR result, and what a radiotherapist must be told about it.

The post-processing (§4.4) makes most rules true by construction when the network finds the
organs; when it does not (a skull-stripped scan has no eyes, thick slices lose the lenses, an
unusual scan confuses the network) the output is silently incomplete. These checks say so,
organ by organ, beside the result (CLI warnings, the worker's and the Slicer panel's warnings,
the provenance), so an empty organ is never mistaken for an organ the model looked at and cleared.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

PAIRED = ("Eye", "Lens", "OpticNrv", "Hippocampus")
THIN_ORGANS_MM = 3.0
"""Slices thicker than this cannot hold the lenses, optic nerves, chiasm and pituitary (2-5 mm across)."""


def slice_thickness_warning(spacing_mm, sequence: str) -> list[str]:
    """A line when the scan's slices are too thick for the small organs, whatever the model then finds."""
    thickest = max(float(s) for s in spacing_mm)
    if thickest <= THIN_ORGANS_MM:
        return []
    return [f"{sequence} voxels are {thickest:.1f} mm along one axis: the lenses, optic nerves, chiasm and pituitary "
            f"(2-5 mm across) cannot be contoured reliably from it; the model was trained on 1 mm scans, so use a "
            f"thin-slice (<= {THIN_ORGANS_MM:g} mm) series for these organs"]


def check_organs(check: str) -> tuple[str, ...]:
    """The organs a check of :func:`anatomy_checks` is about (a missing one explains its failure)."""
    if check.endswith("_is_left"):
        organ = check[: -len("_L_is_left")]
        return f"{organ}_L", f"{organ}_R"
    kind, side = check.split("_")[:2]
    return {"eye": (f"Eye_{side}",), "lens": (f"Lens_{side}", f"Eye_{side}"),
            "nerve": (f"OpticNrv_{side}", f"Eye_{side}", "OpticChiasm")}[kind]


def anatomy_checks(organs: dict[str, np.ndarray], left_is_high_x: bool = True) -> dict[str, bool]:
    """The thesis's rules on a final output (z, y, x masks on one grid): one eye per side with its lens
    inside, one connected nerve per side from eye to chiasm, each left organ on the patient's left."""
    out = {}
    for side in ("L", "R"):
        eye, lens, nerve = organs[f"Eye_{side}"], organs[f"Lens_{side}"], organs[f"OpticNrv_{side}"]
        out[f"eye_{side}_one_component"] = ndi.label(eye)[1] == 1
        out[f"lens_{side}_inside_eye"] = bool(lens.any() and not (lens & ~eye).any())
        out[f"nerve_{side}_one_component"] = ndi.label(nerve, np.ones((3, 3, 3)))[1] == 1
        grown = ndi.binary_dilation(nerve, iterations=2)
        out[f"nerve_{side}_touches_eye_and_chiasm"] = bool((grown & eye).any() and (grown & organs["OpticChiasm"]).any())
    for organ in PAIRED:
        left, right = organs[f"{organ}_L"], organs[f"{organ}_R"]
        if left.any() and right.any():
            left_x, right_x = np.argwhere(left)[:, 2].mean(), np.argwhere(right)[:, 2].mean()
            out[f"{organ}_L_is_left"] = left_x > right_x if left_is_high_x else left_x < right_x
    return {k: bool(v) for k, v in out.items()}


def review_warnings(organs: dict[str, np.ndarray], checks: dict[str, bool]) -> list[str]:
    """One line per problem: the organs not found, then the broken rules a missing organ does not explain."""
    missing = [name for name, mask in organs.items() if not mask.any()]
    lines = []
    if missing:
        lines.append(f"organs not found, contour them by hand: {', '.join(missing)} (the model found nothing there; "
                     "a skull-stripped or cropped scan, or slices thicker than the organ, hide eyes, lenses and nerves)")
    broken = [name for name, ok in checks.items() if not ok and not set(check_organs(name)) & set(missing)]
    if broken:
        lines.append(f"anatomy checks failed, review these organs: {', '.join(broken)}")
    return lines
