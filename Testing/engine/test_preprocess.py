"""Preprocessing steps: each checked on small synthetic volumes and on a real BraTS case."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from weakseg.errors import WeakSegError
from weakseg.io.case import assemble_case, load_case
from weakseg.preprocess import (
    PreprocessConfig,
    bounding_box,
    brain_mask,
    crop,
    from_canonical,
    normalise_median,
    prepare_channels,
    resample_spacing,
    restore,
    to_canonical,
    uncrop,
    zscore,
)


def _ball(shape=(20, 24, 28), centre=(10, 12, 14), radius=7.0) -> np.ndarray:
    zz, yy, xx = np.indices(shape)
    return (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius**2


def _image(array: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=None) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    return image


def _oblique_direction(angle_deg=20.0) -> tuple[float, ...]:
    a = np.deg2rad(angle_deg)
    rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    flip = np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]])  # an axis permutation with flips
    return tuple((rot @ flip).ravel())


# --- brain mask -------------------------------------------------------------------------------

def test_brain_mask_is_union_of_nonzero_with_holes_filled():
    ball = _ball()
    a = np.where(ball, 50, 0).astype(np.int16)
    a[10, 12, 14] = 0  # an enclosed dark voxel (necrosis at intensity 0)
    b = np.zeros_like(a)
    b[2, 2, 2] = 7  # non-zero only in the second sequence
    mask = brain_mask([a, b])
    assert mask.dtype == bool
    assert mask[10, 12, 14] and mask[2, 2, 2]
    assert mask.sum() == ball.sum() + 1


def test_brain_mask_fills_holes_per_slice_open_in_3d():
    a = np.zeros((5, 12, 12), np.float32)
    a[:, 2:10, 2:10] = 1
    a[:, 5:7, 5:7] = 0  # a tube through all slices: open in 3D, enclosed in each axial slice
    mask = brain_mask([a])
    assert mask[:, 5:7, 5:7].all()


def _brain_mask_by_definition(images) -> np.ndarray:
    """The docstring's definition, slowly: holes filled in 3D on the whole grid, then slice by slice."""
    from scipy import ndimage

    mask = ndimage.binary_fill_holes(np.any([np.asarray(i) != 0 for i in images], axis=0))
    for z in range(mask.shape[0]):
        mask[z] = ndimage.binary_fill_holes(mask[z])
    return mask


@settings(max_examples=60, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 7), st.integers(1, 12), st.integers(1, 12))))
def test_brain_mask_filled_inside_its_box_equals_the_definition(voxels):
    assert np.array_equal(brain_mask([voxels.astype(np.float32)]), _brain_mask_by_definition([voxels]))


def test_brain_mask_equals_the_definition_on_a_real_brats_case():
    from shared_paths import BRATS18

    case = BRATS18 / "Brats18_2013_11_1"
    if not case.is_dir():
        pytest.skip("shared BraTS data absent")
    images = [sitk.GetArrayFromImage(sitk.ReadImage(str(case / f"Brats18_2013_11_1_{s}.nii.gz")))
              for s in ("flair", "t1", "t1ce", "t2")]
    assert np.array_equal(brain_mask(images), _brain_mask_by_definition(images))


def test_brain_mask_given_wins_and_shape_mismatch_is_refused():
    given = np.zeros((3, 4, 5), np.uint8)
    given[1, 1, 1] = 3
    out = brain_mask([np.ones((3, 4, 5))], given=given)
    assert out.dtype == bool and out.sum() == 1
    with pytest.raises(WeakSegError):
        brain_mask([np.ones((3, 4, 5)), np.ones((3, 4, 6))])


# --- bounding box, crop, uncrop ----------------------------------------------------------------------

def test_bounding_box_margin_and_clipping():
    mask = np.zeros((10, 12, 14), bool)
    mask[1, 5, 13] = mask[3, 7, 9] = True
    assert bounding_box(mask) == (slice(1, 4), slice(5, 8), slice(9, 14))
    assert bounding_box(mask, margin=2) == (slice(0, 6), slice(3, 10), slice(7, 14))
    with pytest.raises(WeakSegError):
        bounding_box(np.zeros((4, 4, 4), bool))


def test_crop_uncrop_round_trip_keeps_channels_and_fill():
    rng = np.random.default_rng(0)
    volume = rng.integers(1, 100, size=(2, 10, 11, 12)).astype(np.int16)
    mask = np.zeros((10, 11, 12), bool)
    mask[2:7, 3:9, 4:6] = True
    box = bounding_box(mask, margin=1)
    cropped = crop(volume, box)
    assert cropped.shape == (2, 7, 8, 4)
    back = uncrop(cropped, box, (10, 11, 12), fill=-1)
    assert back.dtype == volume.dtype
    inside = np.zeros((10, 11, 12), bool)
    inside[box] = True
    np.testing.assert_array_equal(back[:, inside], volume[:, inside])
    assert (back[:, ~inside] == -1).all()
    with pytest.raises(WeakSegError):
        uncrop(cropped[:, :-1], box, (10, 11, 12))


# --- normalisation -----------------------------------------------------------------------------

def test_normalise_median_uses_positive_brain_voxels_only():
    array = np.zeros((1, 1, 8), np.int16)
    array[0, 0, :] = [0, 10, 20, 30, 40, 0, 500, 0]  # last voxels are outside the mask
    mask = np.zeros_like(array, bool)
    mask[0, 0, :5] = True  # brain includes a zero voxel, which must not lower the median
    out = normalise_median(array, mask)
    assert out.dtype == np.float32
    median = np.median([10, 20, 30, 40])
    np.testing.assert_allclose(out[0, 0, :5], np.array([0, 10, 20, 30, 40]) / median * 100, rtol=1e-6)
    assert (out[0, 0, 5:] == 0).all()
    with pytest.raises(WeakSegError):
        normalise_median(np.zeros((2, 2, 2)), np.ones((2, 2, 2), bool))


def test_zscore_over_mask():
    rng = np.random.default_rng(1)
    array = rng.normal(300, 40, size=(6, 7, 8)).astype(np.float32)
    mask = _ball((6, 7, 8), (3, 3, 4), 3)
    out = zscore(array, mask)
    assert out.dtype == np.float32
    assert abs(out[mask].mean()) < 1e-4 and abs(out[mask].std() - 1) < 1e-4
    assert (out[~mask] == 0).all()
    flat = zscore(np.full((2, 2, 2), 5.0), np.ones((2, 2, 2), bool))
    assert (flat == 0).all()


# --- orientation and resampling ----------------------------------------------------------------

@pytest.mark.parametrize("direction", [None, (-1, 0, 0, 0, -1, 0, 0, 0, 1), (0, 0, 1, 1, 0, 0, 0, 1, 0), "oblique"])
def test_canonical_round_trip_restores_grid_and_voxels(direction):
    if direction == "oblique":
        direction = _oblique_direction()
    rng = np.random.default_rng(2)
    array = rng.integers(0, 1000, size=(5, 6, 7)).astype(np.int16)
    image = _image(array, spacing=(0.9, 1.3, 2.5), origin=(-10.0, 20.0, 33.0), direction=direction)
    canonical = to_canonical(image)
    if direction is None or direction != _oblique_direction():
        assert np.allclose(canonical.GetDirection(), np.eye(3).ravel())
    # every voxel keeps its physical position
    idx = (2, 4, 1)
    point = image.TransformIndexToPhysicalPoint(idx)
    cidx = canonical.TransformPhysicalPointToIndex(point)
    assert canonical[cidx] == image[idx]
    back = from_canonical(canonical, image)
    assert back.GetSize() == image.GetSize()
    assert back.GetOrigin() == image.GetOrigin()
    assert back.GetSpacing() == image.GetSpacing()
    assert back.GetDirection() == image.GetDirection()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), array)


def test_canonical_of_flipped_volume_reverses_axes():
    array = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    image = _image(array, direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1))  # RAS
    canonical = to_canonical(image, "LPS")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(canonical), array[:, ::-1, ::-1])


def test_resample_spacing_keeps_extent_and_values():
    array = np.zeros((10, 20, 30), np.float32)
    array[:, :, 15:] = 100.0
    image = _image(array, spacing=(1.0, 1.0, 2.0), origin=(5.0, 6.0, 7.0))
    out = resample_spacing(image, (2.0, 2.0, 2.0))
    assert out.GetSize() == (15, 10, 10)
    assert out.GetSpacing() == (2.0, 2.0, 2.0) and out.GetOrigin() == image.GetOrigin()
    res = sitk.GetArrayFromImage(out)
    assert (res[:, :, :7] == 0).all() and (res[:, :, 8:] == 100).all()
    labels = _image((array > 0).astype(np.uint8) * 4, spacing=(1.0, 1.0, 2.0))
    lab = resample_spacing(labels, (0.5, 0.5, 1.0), nearest=True)
    assert lab.GetPixelID() == sitk.sitkUInt8
    assert set(np.unique(sitk.GetArrayViewFromImage(lab))) == {0, 4}
    with pytest.raises(WeakSegError):
        resample_spacing(image, (1.0, 0.0, 1.0))


# --- prepare_channels / restore ---------------------------------------------------------------

def _synthetic_case():
    shape = (20, 24, 28)
    ball = _ball(shape)
    rng = np.random.default_rng(3)
    images = {}
    for i, name in enumerate(("flair", "t1", "t1c", "t2")):
        arr = np.where(ball, rng.integers(50, 150, size=shape) * (i + 1), 0).astype(np.int16)
        images[name] = _image(arr, spacing=(1.0, 1.0, 1.5), origin=(1.0, 2.0, 3.0))
    return assemble_case("synthetic", images, {}), ball


def test_prepare_channels_stacks_in_order_and_restore_inverts():
    case, ball = _synthetic_case()
    order = ("t2", "flair", "t1c")
    config = PreprocessConfig(normalisation="median", margin=2)
    stack, box = prepare_channels(case, order, config)
    assert stack.dtype == np.float32 and stack.shape[0] == 3
    assert box == bounding_box(ball, margin=2)
    cropped_ball = crop(ball, box)
    for channel, name in zip(stack, order):
        raw = crop(sitk.GetArrayViewFromImage(case.images[name]), box).astype(np.float32)
        expected = raw / np.median(raw[cropped_ball & (raw > 0)]) * 100
        np.testing.assert_allclose(channel[cropped_ball], expected[cropped_ball], rtol=1e-5)
        assert (channel[~cropped_ball] == 0).all()
    restored = restore(cropped_ball.astype(np.uint8), box, case)
    assert restored.GetSize() == case.grid.GetSize()
    assert restored.GetOrigin() == case.grid.GetOrigin() and restored.GetSpacing() == case.grid.GetSpacing()
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(restored), ball.astype(np.uint8))


def test_prepare_channels_zscore_none_and_missing_sequence():
    case, ball = _synthetic_case()
    stack, box = prepare_channels(case, ["flair"], PreprocessConfig(normalisation="zscore"))
    inside = crop(ball, box)
    assert abs(stack[0][inside].mean()) < 1e-4
    raw, _ = prepare_channels(case, ["t1"], PreprocessConfig(normalisation="none"))
    np.testing.assert_array_equal(raw[0], crop(sitk.GetArrayViewFromImage(case.images["t1"]), box))
    del case.images["t2"]
    with pytest.raises(WeakSegError, match="t2"):
        prepare_channels(case, ["flair", "t2"])
    with pytest.raises(WeakSegError):
        PreprocessConfig(normalisation="minmax")


def test_prepare_channels_on_real_brats_case(brats_case):
    case = load_case(brats_case)
    stack, box = prepare_channels(case, ("flair", "t1", "t1c", "t2"), PreprocessConfig(margin=1))
    assert stack.shape[0] == 4 and stack.shape[1:] == tuple(s.stop - s.start for s in box)
    assert stack.shape[1] * stack.shape[2] * stack.shape[3] < 0.6 * 240 * 240 * 155  # the crop removes background
    mask = brain_mask([sitk.GetArrayViewFromImage(case.images[s]) for s in ("flair", "t1", "t1c", "t2")])
    inside = crop(mask, box)
    for channel, name in zip(stack, ("flair", "t1", "t1c", "t2")):
        raw = crop(sitk.GetArrayViewFromImage(case.images[name]), box)
        # the median of positive brain voxels maps to 100
        assert np.median(channel[inside & (raw > 0)]) == pytest.approx(100.0, rel=1e-3)
    labels = sitk.GetArrayFromImage(case.labels)
    restored = restore(crop(labels, box), box, case)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(restored), labels)  # the box holds every label voxel


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(mask=arrays(bool, st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7))), margin=st.integers(0, 3))
def test_box_is_tight_and_crop_uncrop_loses_nothing(mask, margin):
    assume(mask.any())
    tight = bounding_box(mask)
    for axis, s in enumerate(tight):
        first = np.take(mask, s.start, axis=axis)
        last = np.take(mask, s.stop - 1, axis=axis)
        assert first.any() and last.any()  # no empty border slice: the box is tight
    box = bounding_box(mask, margin)
    assert all(0 <= s.start <= t.start and t.stop <= s.stop <= n for s, t, n in zip(box, tight, mask.shape))
    np.testing.assert_array_equal(uncrop(crop(mask, box), box, mask.shape), mask)


@settings(max_examples=30, deadline=None)
@given(order=st.permutations([0, 1, 2]), signs=st.tuples(*[st.sampled_from([-1.0, 1.0])] * 3),
       code=st.sampled_from(["LPS", "RAS", "LPI", "ASL"]))
def test_any_axis_order_round_trips_through_canonical(order, signs, code):
    direction = np.zeros((3, 3))
    for column, (axis, sign) in enumerate(zip(order, signs)):
        direction[axis, column] = sign
    array = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    image = _image(array, spacing=(0.5, 1.0, 3.0), origin=(4.0, -2.0, 7.0), direction=tuple(direction.ravel()))
    canonical = to_canonical(image, code)
    assert sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(canonical.GetDirection()) == code
    back = from_canonical(canonical, image)
    assert back.GetDirection() == image.GetDirection() and back.GetOrigin() == image.GetOrigin()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), array)
