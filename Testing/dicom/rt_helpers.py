"""Helpers for the DICOM RT tests (not a conftest: a second module named conftest would shadow Testing/conftest.py).

Synthetic DICOM series with known label phantoms, and the external oracles (dciodvfy, drtdump, plastimatch)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.rt.series import write_synthetic_series


def rotation(axis, degrees: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.deg2rad(degrees)
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


DIRECTIONS = {
    "axial": np.eye(3),
    # rows run anterior→posterior, columns superior→inferior, slices right→left... normal = -x
    "sagittal": np.column_stack([[0, 1, 0], [0, 0, -1], [-1, 0, 0]]).astype(float),
    "oblique": rotation([1.0, 0.5, 0.2], 25.0),
}
SIZE = (80, 72, 28)        # x, y, z
SPACING = (0.9, 0.8, 2.0)  # one voxel = 1.44 mm3


def phantom_labels(grid: sitk.Image) -> sitk.Image:
    """1 core (~0.9 ml), 2 shell with a hole (~12 ml), 4 box (~1.2 ml) plus a one-voxel island."""
    z, y, x = np.mgrid[: SIZE[2], : SIZE[1], : SIZE[0]]
    r2 = ((x - 38) * SPACING[0]) ** 2 + ((y - 34) * SPACING[1]) ** 2 + ((z - 13) * SPACING[2]) ** 2
    lab = np.zeros(SIZE[::-1], dtype=np.uint8)
    lab[r2 < 15 ** 2] = 2
    lab[r2 < 8 ** 2] = 0
    lab[r2 < 6 ** 2] = 1
    lab[3:9, 55:67, 4:16] = 4
    lab[20, 5, 70] = 4  # island below the minimum area: must be dropped
    image = sitk.GetImageFromArray(lab)
    image.CopyInformation(grid)
    return image


def make_grid(orientation: str) -> sitk.Image:
    image = sitk.Image(SIZE, sitk.sitkInt16)
    image.SetSpacing(SPACING)
    image.SetOrigin((-31.5, -42.0, 17.25))
    image.SetDirection(DIRECTIONS[orientation].ravel().tolist())
    return image


@pytest.fixture(scope="session", params=sorted(DIRECTIONS))
def synthetic_case(request, tmp_path_factory) -> tuple[str, Path, sitk.Image]:
    """(orientation, series folder, label image on the series grid) for axial, sagittal, oblique."""
    orientation = request.param
    grid = make_grid(orientation)
    arr = np.full(SIZE[::-1], -1000, dtype=np.int16)
    grid_img = sitk.GetImageFromArray(arr)
    grid_img.CopyInformation(grid)
    folder = tmp_path_factory.mktemp(f"series_{orientation}")
    write_synthetic_series(grid_img, folder, "CT" if orientation == "axial" else "MR")
    return orientation, folder, phantom_labels(grid)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (apt-get install dicom3tools dcmtk plastimatch)")
    return path


def dciodvfy_errors(path: Path) -> tuple[str, list[str]]:
    """(recognised IOD line, every 'Error' line) from dicom3tools' validator."""
    result = subprocess.run([need("dciodvfy"), str(path)], capture_output=True, text=True, timeout=120)
    lines = (result.stdout + result.stderr).splitlines()
    errors = [line for line in lines if line.startswith("Error")]
    return (lines[0] if lines else ""), errors


def drtdump(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([need("drtdump"), str(path)], capture_output=True, text=True, timeout=120)


def plastimatch_masks(rtstruct: Path, series: Path, out: Path) -> dict[str, sitk.Image]:
    """Rasterise with plastimatch (one NRRD per ROI, named after the ROI)."""
    result = subprocess.run([need("plastimatch"), "convert", "--input", str(rtstruct), "--referenced-ct", str(series),
                             "--output-prefix", str(out), "--prefix-format", "nrrd"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {p.stem: sitk.ReadImage(str(p)) for p in sorted(out.glob("*.nrrd"))}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * float(np.logical_and(a, b).sum()) / total


def on_grid(mask: sitk.Image, grid: sitk.Image) -> np.ndarray:
    moved = sitk.Resample(mask, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(moved) > 0


def write_seg_nrrd(path: Path, data: np.ndarray, grid: sitk.Image, segments: list[tuple[str, int, int, str]]) -> Path:
    """A Slicer-style .seg.nrrd: ``data`` is (z, y, x) or layered (z, y, x, layers); segments are
    (name, label value, layer, "r g b"). Written by hand so the test does not use our reader's assumptions."""
    layered = data.ndim == 4
    z, y, x = data.shape[:3]
    direction = np.array(grid.GetDirection()).reshape(3, 3) * np.array(grid.GetSpacing())[None, :]
    dirs = " ".join("(" + ",".join(f"{v:.10g}" for v in direction[:, i]) + ")" for i in range(3))
    header = ["NRRD0004", "type: unsigned char", f"dimension: {4 if layered else 3}", "space: left-posterior-superior",
              f"sizes: {str(data.shape[3]) + ' ' if layered else ''}{x} {y} {z}",
              f"space directions: {'none ' if layered else ''}{dirs}",
              f"kinds: {'list ' if layered else ''}domain domain domain", "encoding: raw", "endian: little",
              "space origin: (" + ",".join(f"{v:.10g}" for v in grid.GetOrigin()) + ")"]
    for i, (name, value, layer, colour) in enumerate(segments):
        header += [f"Segment{i}_Name:={name}", f"Segment{i}_LabelValue:={value}", f"Segment{i}_Layer:={layer}",
                   f"Segment{i}_Color:={colour}"]
    with open(path, "wb") as handle:
        handle.write(("\n".join(header) + "\n\n").encode())
        handle.write(np.ascontiguousarray(data, dtype=np.uint8).tobytes())
    return path


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
