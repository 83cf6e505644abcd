"""Reading every real BraTS file and writing it back loses nothing: voxels, pixel type, geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from shared_paths import brats_cases
from weakseg.io.case import load_case
from weakseg.io.image import read_image, same_grid, write_image

nib = pytest.importorskip("nibabel")


def _assert_identical(a: sitk.Image, b: sitk.Image) -> None:
    assert a.GetPixelID() == b.GetPixelID()
    assert a.GetSize() == b.GetSize()
    assert a.GetOrigin() == b.GetOrigin()
    assert a.GetSpacing() == b.GetSpacing()
    assert a.GetDirection() == b.GetDirection()
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b))


@pytest.mark.parametrize("case_dir", brats_cases(), ids=lambda p: p.name)
def test_brats_case_round_trip(case_dir: Path, tmp_path: Path):
    files = sorted(case_dir.glob("*.nii.gz"))
    assert len(files) == 5
    for path in files:
        image = read_image(path)
        written = write_image(image, tmp_path / path.name)
        _assert_identical(sitk.ReadImage(str(written)), image)
        # an independent reader agrees on the voxel-to-world mapping and the stored type (header
        # only), and on the values of the labels, where a single changed voxel would matter most
        src, out = nib.load(path), nib.load(written)
        np.testing.assert_allclose(out.affine, src.affine, atol=1e-5)
        assert out.get_data_dtype() == src.get_data_dtype()
        if path.name.endswith("_seg.nii.gz"):
            np.testing.assert_array_equal(np.asanyarray(out.dataobj).T, sitk.GetArrayViewFromImage(image))


def test_brats_case_loads_on_one_grid_and_other_formats_round_trip(brats_case: Path, tmp_path: Path):
    case = load_case(brats_case)
    assert set(case.images) == {"t1", "t1c", "t2", "flair"} and case.labels is not None
    assert not case.warnings
    for image in (*case.images.values(), case.labels):
        assert same_grid(image, case.grid)
        for suffix in (".nrrd", ".mha", ".seg.nrrd"):
            _assert_identical(read_image(write_image(image, tmp_path / f"x{suffix}")), image)
