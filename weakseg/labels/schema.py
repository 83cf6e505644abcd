"""What a weak-label sidecar holds on disk: constants, the grid it is tied to, and the JSON codec.

The sidecar is ``<case>/weaklabels/labels.json`` plus NRRD masks beside it. The JSON stays
human-readable: slice labels are run-length strings such as ``"0-40 absent, 41-90 present"``,
never one line per slice, and every mask is referenced by file name and SHA-256.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg.errors import WeakSegError

SCHEMA_NAME = "weakseg.labels"
SCHEMA_VERSION = 1
"""Bumped whenever the JSON layout changes; a reader refuses sidecars of a newer version."""

SIDECAR_DIR = "weaklabels"
SIDECAR_JSON = "labels.json"

# Slice-label and scribble values (int8 in memory).
PRESENT, ABSENT, UNKNOWN = 1, 0, -1
VALUE_NAMES = {PRESENT: "present", ABSENT: "absent", UNKNOWN: "unknown"}
NAME_VALUES = {name: value for value, name in VALUE_NAMES.items()}

# Scribble values in memory (``FOREGROUND``/``BACKGROUND``/``UNKNOWN``) and on disk
# (uint8, 0 = unknown so the file shows as an ordinary label map in Slicer).
FOREGROUND, BACKGROUND = 1, 0
SCRIBBLE_DISK = {UNKNOWN: 0, FOREGROUND: 1, BACKGROUND: 2}

# Region labels for the infiltration method (paper 000), uint8.
OUTSIDE, ROI1, ROI2, ROI3 = 0, 1, 2, 3
REGION_NAMES = {OUTSIDE: "outside", ROI1: "core (ROI1)", ROI2: "possibly infiltrated (ROI2)",
                ROI3: "normal-appearing (ROI3)"}

STATUSES = ("not started", "partial", "complete", "reviewed")
KINDS = ("slices", "scribbles", "regions", "full")
"""Label kinds a store can hold: slice labels, scribbles, EMReDL regions, full voxel masks."""

AXES = ("axial", "coronal", "sagittal")
# Patient (LPS) world axis each anatomical slice orientation is normal to: sagittal ⟂ L, coronal ⟂ P, axial ⟂ S.
_WORLD_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}


@dataclass(frozen=True)
class Grid:
    """The voxel grid a case's labels live on (ITK order: size and spacing are x, y, z)."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]  # 9 values, row-major, columns are the index axes' directions

    @classmethod
    def from_image(cls, image: sitk.Image) -> "Grid":
        if image.GetDimension() != 3:
            raise WeakSegError(f"labels need a 3D grid, got a {image.GetDimension()}D image")
        return cls(tuple(int(s) for s in image.GetSize()), tuple(float(s) for s in image.GetSpacing()),
                   tuple(float(o) for o in image.GetOrigin()), tuple(float(d) for d in image.GetDirection()))

    @classmethod
    def from_file(cls, path: str | Path) -> "Grid":
        """Read only the header of an image file: cheap even for large volumes."""
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        try:
            reader.ReadImageInformation()
        except RuntimeError:
            raise WeakSegError("could not read the image header", path) from None
        if reader.GetDimension() != 3:
            raise WeakSegError(f"is a {reader.GetDimension()}D image; labels need a 3D grid", path)
        return cls(tuple(int(s) for s in reader.GetSize()), tuple(float(s) for s in reader.GetSpacing()),
                   tuple(float(o) for o in reader.GetOrigin()), tuple(float(d) for d in reader.GetDirection()))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (z, y, x) of every mask on this grid."""
        return (self.size[2], self.size[1], self.size[0])

    def image(self, array: np.ndarray) -> sitk.Image:
        """Wrap a (z, y, x) array in an image carrying this grid's geometry."""
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)
        return image

    def matches(self, other: "Grid | sitk.Image", *, tol: float = 1e-4) -> bool:
        """Same size, spacing, origin and direction (tolerances as ``weakseg.io.image.same_grid``)."""
        if isinstance(other, sitk.Image):
            if other.GetDimension() != 3:
                return False
            other = Grid.from_image(other)
        return (
            other.size == self.size
            and np.allclose(other.spacing, self.spacing, atol=tol)
            and np.allclose(other.origin, self.origin, atol=tol * 100)
            and np.allclose(other.direction, self.direction, atol=tol)
        )

    def array_axis(self, axis: str) -> int:
        """Array axis (0 = z, 1 = y, 2 = x) whose slices are ``axis`` ("axial", "coronal", "sagittal").

        Chosen from the direction cosines, so a sagittally acquired series still has its axial
        slices along the right array axis: each index axis is matched to the patient axis it
        is most nearly parallel to (as Slicer picks the slice view's IJK axis).
        """
        if axis not in _WORLD_AXIS:
            raise ValueError(f"unknown axis {axis!r}; expected one of {', '.join(AXES)}")
        d = np.abs(np.asarray(self.direction, float).reshape(3, 3))  # d[world, index]
        best = max(itertools.permutations(range(3)), key=lambda p: sum(d[w, p[w]] for w in range(3)))
        index_axis = best[_WORLD_AXIS[axis]]
        return 2 - index_axis

    def n_slices(self, axis: str) -> int:
        return self.shape[self.array_axis(axis)]

    def to_json(self) -> dict:
        clean = lambda values: [v + 0.0 for v in values]  # noqa: E731  (-0.0 → 0.0 for readable JSON)
        return {"size": list(self.size), "spacing": clean(self.spacing), "origin": clean(self.origin),
                "direction": clean(self.direction)}

    @classmethod
    def from_json(cls, data: object, path: Path) -> "Grid":
        try:
            size = tuple(int(v) for v in data["size"])
            spacing = tuple(float(v) for v in data["spacing"])
            origin = tuple(float(v) for v in data["origin"])
            direction = tuple(float(v) for v in data["direction"])
        except (KeyError, TypeError, ValueError):
            raise WeakSegError("corrupt weak-label sidecar: 'grid' needs size, spacing, origin, direction", path) from None
        if len(size) != 3 or len(spacing) != 3 or len(origin) != 3 or len(direction) != 9 or min(size) < 1:
            raise WeakSegError("corrupt weak-label sidecar: 'grid' is not a 3D grid", path)
        return cls(size, spacing, origin, direction)


# ---------------------------------------------------------------- slice labels as run-length text

_RUN = re.compile(r"^\s*(\d+)(?:-(\d+))?\s+(present|absent|unknown)\s*$")


def encode_runs(values: np.ndarray) -> str:
    """``[0,0,1,1,1,-1]`` → ``"0-1 absent, 2-4 present, 5 unknown"`` (indices inclusive)."""
    values = np.asarray(values)
    if values.size == 0:
        return ""
    change = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [values.size])) - 1
    parts = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        span = f"{s}" if s == e else f"{s}-{e}"
        parts.append(f"{span} {VALUE_NAMES[int(values[s])]}")
    return ", ".join(parts)


def decode_runs(text: object, n: int, path: Path, where: str) -> np.ndarray:
    """Inverse of ``encode_runs``; the runs must cover 0..n-1 exactly once, in order."""
    if not isinstance(text, str):
        raise WeakSegError(f"corrupt weak-label sidecar: {where} must be a string of runs", path)
    out = np.empty(n, np.int8)
    expected = 0
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _RUN.match(part)
        if not match:
            raise WeakSegError(f"corrupt weak-label sidecar: {where}: cannot read run {part!r}", path)
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if first != expected or last < first or last >= n:
            raise WeakSegError(f"corrupt weak-label sidecar: {where}: run {part!r} does not continue at slice {expected} "
                               f"within 0-{n - 1}", path)
        out[first:last + 1] = NAME_VALUES[match.group(3)]
        expected = last + 1
    if expected != n:
        raise WeakSegError(f"corrupt weak-label sidecar: {where}: runs cover {expected} of {n} slices", path)
    return out
