"""read_image / write_image checks that ITK alone would miss, and the grid helpers."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.errors import WeakSegError
from weakseg.io.image import (
    orientation_code,
    overlap_fraction,
    read_image,
    read_images,
    resample_to,
    same_grid,
    write_image,
)


def _image(shape=(12, 14, 16), dtype=np.int16, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), seed=0) -> sitk.Image:
    array = np.random.default_rng(seed).integers(0, 500, size=shape).astype(dtype)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


def _corrupt_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(255 - b for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))


def test_itk_alone_misses_truncation_and_corruption_read_image_does_not(tmp_path):
    full = write_image(_image(), tmp_path / "full.nii.gz")
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(full.read_bytes())
    _corrupt_middle(corrupt)
    sitk.ReadImage(str(truncated))  # the reason these checks exist: ITK returns a volume without complaint
    for verify in (True, False):
        with pytest.raises(WeakSegError, match="truncated .gz file"):
            read_image(truncated, verify=verify)
    with pytest.raises(WeakSegError, match="corrupt .gz file"):
        read_image(corrupt)
    read_image(full, verify=False)


def test_read_images_checks_every_file_and_names_the_first_bad_one_in_order(tmp_path):
    files = [write_image(_image(seed=i), tmp_path / f"s{i}.nii.gz") for i in range(4)]
    together = read_images(files)
    for path, image in zip(files, together):
        assert np.array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(read_image(path)))
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(files[1].read_bytes())
    _corrupt_middle(corrupt)
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(files[2].read_bytes()[: files[2].stat().st_size // 2])
    with pytest.raises(WeakSegError, match="corrupt .gz file") as raised:
        read_images([files[0], corrupt, truncated, files[3]])
    assert "corrupt.nii.gz" in str(raised.value)
    with pytest.raises(WeakSegError, match="truncated .gz file"):
        read_images([files[0], truncated, corrupt])
    with pytest.raises(WeakSegError, match="file not found"):
        read_images([files[0], tmp_path / "absent.nii.gz"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_in_nifti_is_found_although_itk_reads_it_as_zero(tmp_path, dtype):
    image = _image(dtype=dtype)
    image[1, 2, 3] = float("nan")
    path = write_image(image, tmp_path / "nan.nii.gz")
    assert not np.isnan(sitk.GetArrayFromImage(sitk.ReadImage(str(path)))).any()
    with pytest.raises(WeakSegError, match="contains 1 NaN"):
        read_image(path)
    assert read_image(path, check_finite=False).GetSize() == image.GetSize()


def test_dimension_and_component_checks(tmp_path):
    four = sitk.JoinSeries([_image(), _image(seed=1)])
    with pytest.raises(WeakSegError, match="4D image"):
        read_image(write_image(four, tmp_path / "four.nii.gz"))
    single = read_image(write_image(sitk.JoinSeries([_image()]), tmp_path / "single.nrrd"))
    assert single.GetDimension() == 3
    rgb = sitk.Compose([_image(), _image(seed=1), _image(seed=2)])
    with pytest.raises(WeakSegError, match="3 components"):
        read_image(write_image(rgb, tmp_path / "rgb.nrrd"))
    flat = write_image(_image(shape=(1, 14, 16)), tmp_path / "flat.mha")
    with pytest.raises(WeakSegError, match="2D image"):
        read_image(flat)
    assert read_image(flat, allow_2d=True).GetSize() == (16, 14, 1)
    with pytest.raises(WeakSegError, match="is a folder"):
        read_image(tmp_path)


def test_write_is_atomic_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out" / "labels.seg.nrrd"
    write_image(_image(dtype=np.uint8), target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        write_image(_image(), tmp_path / "out" / "labels.seg.nrrd.unknownformat")
    with pytest.raises(RuntimeError):
        write_image(sitk.Image(), target)  # an empty image cannot be written: the old file stays
    assert target.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["labels.seg.nrrd"]


def test_grid_helpers():
    ref = _image(spacing=(1.0, 1.0, 2.0), origin=(10.0, -5.0, 3.0))
    assert same_grid(ref, _image(spacing=(1.0, 1.0, 2.0), origin=(10.0, -5.0, 3.0), seed=4))
    shifted = _image(spacing=(1.0, 1.0, 2.0), origin=(10.0 + 7.5, -5.0, 3.0))
    assert not same_grid(ref, shifted)
    assert overlap_fraction(shifted, ref) == pytest.approx((15 - 7.5) / 15)
    labels = sitk.GetImageFromArray((np.indices((12, 14, 16))[2] // 4 * 2).astype(np.uint8))
    labels.CopyInformation(ref)
    moved = resample_to(labels, shifted, nearest=True)
    assert moved.GetPixelID() == sitk.sitkUInt8 and same_grid(moved, shifted)
    assert set(np.unique(sitk.GetArrayViewFromImage(moved))) <= {0, 2, 4, 6}
    flipped = sitk.Flip(ref, [True, True, False])
    assert orientation_code(ref) == "LPS" and orientation_code(flipped) == "RAS"


def test_plain_gzip_of_nifti_with_extra_trailing_data_is_accepted(tmp_path):
    raw = gzip.decompress(write_image(_image(), tmp_path / "a.nii.gz").read_bytes())
    padded = tmp_path / "padded.nii.gz"
    padded.write_bytes(gzip.compress(raw + b"\0" * 100))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read_image(padded, verify=False)),
                                  sitk.GetArrayFromImage(_image()))
