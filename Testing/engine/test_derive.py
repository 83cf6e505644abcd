"""Weak labels derived from full labels, checked against independent SimpleITK computations."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from weakseg.cli import main
from weakseg.errors import WeakSegError
from weakseg.io import load_case
from weakseg.labels import ABSENT, BACKGROUND, FOREGROUND, PRESENT, ROI1, ROI2, ROI3, UNKNOWN, Grid, WeakLabelStore
from weakseg.labels.derive import (
    GAN_SEEDS, DeriveConfig, ScribbleConfig, derive_case, derive_store, regions_from_brats, scribbles_from_mask,
    slice_labels_from_mask,
)


def blobs(shape, seed, n=4, touching_border=True):
    """Random ellipsoids, some thin (a few voxels across), some reaching the volume's border."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape)
    mask = np.zeros(shape, bool)
    for k in range(n):
        centre = rng.uniform(0, shape) if touching_border else rng.uniform(np.array(shape) * 0.3, np.array(shape) * 0.7)
        radii = rng.uniform(0.6, 0.3 * np.array(shape) + 1)
        mask |= (((zz - centre[0]) / radii[0]) ** 2 + ((yy - centre[1]) / radii[1]) ** 2
                 + ((xx - centre[2]) / radii[2]) ** 2) <= 1
    return mask


def sitk_slice_presence(mask, axis, iterations):
    """Independent: SimpleITK box erosion (radius = iterations, in-plane only, border counts as background)."""
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    if iterations:
        radius = [iterations] * 3
        radius[2 - axis] = 0  # ITK order is x, y, z; array axis 0 is z
        image = sitk.BinaryErode(image, radius, sitk.sitkBox, 0, 1, False)
    eroded = sitk.GetArrayFromImage(image).astype(bool)
    return np.array([eroded.take(i, axis=axis).any() for i in range(mask.shape[axis])])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("iterations", [0, 1, 2])
def test_slice_labels_match_simpleitk_erosion(seed, axis, iterations):
    mask = blobs((14, 17, 19), seed)
    got = slice_labels_from_mask(mask, axis, erode_iterations=iterations)
    expected = sitk_slice_presence(mask, axis, iterations)
    np.testing.assert_array_equal(got, np.where(expected, PRESENT, ABSENT))
    assert got.dtype == np.int8


def test_erosion_drops_thin_tips_only():
    mask = np.zeros((5, 20, 20), bool)
    mask[1, 5:15, 5:15] = True  # a real cross-section
    mask[2, 8:10, 8:10] = True  # a 2x2 tip: gone after one 3x3 erosion
    mask[3, 7:10, 7:10] = True  # 3x3: one voxel survives
    assert slice_labels_from_mask(mask).tolist() == [0, 1, 1, 1, 0]
    assert slice_labels_from_mask(mask, erode_iterations=1).tolist() == [0, 1, 0, 1, 0]
    assert slice_labels_from_mask(mask, erode_iterations=1, min_voxels=2).tolist() == [0, 1, 0, 0, 0]


@pytest.mark.parametrize("radius_mm", [0.7, 1.3, 2.4, 3.1])
def test_erode_mm_on_anisotropic_grid_matches_a_distance_map(radius_mm):
    spacing_zyx = (3.0, 0.6, 1.1)
    mask = blobs((6, 40, 30), 7, n=3, touching_border=False)
    got = slice_labels_from_mask(mask, 0, erode_mm=radius_mm, spacing=spacing_zyx)
    expected = []
    for z in range(mask.shape[0]):
        # keep a pixel iff its nearest background pixel (outside the slice counts) is farther than radius_mm
        plane = sitk.GetImageFromArray(np.pad(~mask[z], 1).astype(np.uint8))
        plane.SetSpacing((spacing_zyx[2], spacing_zyx[1]))
        dist = sitk.GetArrayFromImage(sitk.DanielssonDistanceMap(plane, inputIsBinary=True, useImageSpacing=True))
        expected.append(bool((dist[1:-1, 1:-1][mask[z]] > radius_mm).any()))
    np.testing.assert_array_equal(got == PRESENT, expected)


def test_slice_labels_of_a_real_brats_seg(brats_case):
    seg = sitk.GetArrayFromImage(sitk.ReadImage(str(next(brats_case.glob("*_seg.nii.gz")))))
    wt = seg > 0
    plain = slice_labels_from_mask(wt)
    np.testing.assert_array_equal(plain == PRESENT, wt.any(axis=(1, 2)))
    eroded = slice_labels_from_mask(wt, erode_iterations=1)
    np.testing.assert_array_equal(eroded == PRESENT, sitk_slice_presence(wt, 0, 1))
    assert set(np.flatnonzero(eroded == PRESENT)) <= set(np.flatnonzero(plain == PRESENT))


# ------------------------------------------------------------------------------ scribbles


@pytest.mark.parametrize("seed", range(5))
def test_scribbles_stay_inside_and_outside_with_margins(seed):
    mask = blobs((12, 48, 48), seed, n=2, touching_border=False)
    within = ndimage.binary_dilation(mask, iterations=10)
    cfg = ScribbleConfig(n_slices=3, erode_px=2, bg_margin_px=4)
    s = scribbles_from_mask(mask, np.random.default_rng(seed), cfg, within=within)
    assert set(np.unique(s)) <= {FOREGROUND, BACKGROUND, UNKNOWN}
    fg, bg = s == FOREGROUND, s == BACKGROUND
    assert fg.any() and bg.any()
    assert not (fg & ~mask).any()
    # background is farther than the margin from the object in its slice, and inside ``within``
    for z in np.flatnonzero(bg.any(axis=(1, 2))):
        guard = ndimage.distance_transform_edt(~mask[z]) <= cfg.bg_margin_px
        assert not (bg[z] & guard).any()
    assert not (bg & ~within).any()
    drawn = np.flatnonzero((fg | bg).any(axis=(1, 2)))
    assert 1 <= drawn.size <= cfg.n_slices
    assert set(drawn) <= set(np.flatnonzero(mask.any(axis=(1, 2))))
    # strokes, not a flood: a small part of the object and its surroundings
    assert fg.sum() < 0.5 * mask[drawn].sum()
    again = scribbles_from_mask(mask, np.random.default_rng(seed), cfg, within=within)
    np.testing.assert_array_equal(s, again)  # reproducible from the seed


def test_scribbles_of_an_empty_or_tiny_mask():
    empty = np.zeros((4, 10, 10), bool)
    assert (scribbles_from_mask(empty, np.random.default_rng(0)) == UNKNOWN).all()
    tiny = empty.copy()
    tiny[2, 5, 5] = True  # thinner than the erosion: the stroke falls back to the object itself
    s = scribbles_from_mask(tiny, np.random.default_rng(0))
    assert s[2, 5, 5] == FOREGROUND and (s == FOREGROUND).sum() == 1


def test_scribbles_on_a_real_tumour(brats_case):
    seg = sitk.GetArrayFromImage(sitk.ReadImage(str(next(brats_case.glob("*_seg.nii.gz")))))
    flair = sitk.GetArrayFromImage(sitk.ReadImage(str(next(brats_case.glob("*_flair.nii.gz")))))
    wt, brain = seg > 0, flair > 0
    s = scribbles_from_mask(wt, np.random.default_rng(0), within=brain)
    assert (s == FOREGROUND).any() and (s == BACKGROUND).any()
    assert not ((s == FOREGROUND) & ~wt).any() and not ((s == BACKGROUND) & (wt | ~brain)).any()


# ------------------------------------------------------------------------------ regions


def test_regions_from_brats_labels_by_hand():
    labels = np.array([[[0, 1, 2, 4, 0, 0]]], np.uint8)
    brain = np.array([[[1, 1, 1, 1, 1, 0]]], bool)
    assert regions_from_brats(labels, brain).tolist() == [[[ROI3, ROI1, ROI2, ROI1, ROI3, 0]]]
    labels2021 = np.array([[[0, 1, 2, 3]]], np.uint8)  # 3 = enhancing in BraTS 2021+
    assert regions_from_brats(labels2021).tolist() == [[[ROI3, ROI1, ROI2, ROI1]]]


def test_regions_of_a_real_case_partition_the_brain(brats_case):
    seg = sitk.GetArrayFromImage(sitk.ReadImage(str(next(brats_case.glob("*_seg.nii.gz")))))
    brain = sitk.GetArrayFromImage(sitk.ReadImage(str(next(brats_case.glob("*_flair.nii.gz"))))) > 0
    regions = regions_from_brats(seg, brain)
    assert (regions == ROI1).sum() == np.isin(seg, (1, 4)).sum()
    assert (regions == ROI2).sum() == (seg == 2).sum()
    assert (regions == ROI3).sum() == (brain & (seg == 0)).sum()


# ------------------------------------------------------------------------------ whole stores and the CLI


def write_case(folder, convention_enhancing=4):
    """A tiny BraTS-named case: four sequences and a tumour with necrosis, enhancing rim and edema."""
    grid = Grid((40, 36, 20), (1.0, 1.0, 2.0), (-20.0, -18.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    zz, yy, xx = np.indices(grid.shape)
    r = np.sqrt(((zz - 10) * 2.0) ** 2 + (yy - 18) ** 2 + (xx - 20) ** 2)
    seg = np.zeros(grid.shape, np.uint8)
    seg[r < 9] = 2
    seg[r < 6] = convention_enhancing
    seg[r < 3] = 1
    brain = np.sqrt(((zz - 10) * 2.0) ** 2 + ((yy - 18) / 1.1) ** 2 + ((xx - 20) / 1.2) ** 2) < 17
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for name in ("flair", "t1", "t1ce", "t2"):
        image = np.where(brain, 100 + 20 * rng.standard_normal(grid.shape) + 50 * (seg > 0), 0).astype(np.int16)
        sitk.WriteImage(grid.image(image), str(folder / f"P1_{name}.nii.gz"))
    sitk.WriteImage(grid.image(seg), str(folder / "P1_seg.nii.gz"))
    return seg, brain


def test_derive_case_fills_a_store_that_round_trips(tmp_path):
    seg, brain = write_case(tmp_path / "P1")
    case = load_case(tmp_path / "P1")
    store = derive_case(case, ["slices", "scribbles", "regions", "full"], config=GAN_SEEDS,
                        sidecar=tmp_path / "P1" / "weaklabels")
    store.save()
    assert store.path == tmp_path / "P1" / "weaklabels" / "labels.json"
    back = WeakLabelStore.open(tmp_path / "P1", create=False)
    assert back.classes == ["WT", "TC", "ET"] and back.kinds() == ["slices", "scribbles", "regions", "full"]
    for name, values in {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}.items():
        mask = np.isin(seg, values)
        np.testing.assert_array_equal(back.full_mask(name), mask)
        np.testing.assert_array_equal(back.slice_labels(name, "axial") == PRESENT, sitk_slice_presence(mask, 0, 1))
        assert not ((back.scribbles(name) == FOREGROUND) & ~mask).any()
    np.testing.assert_array_equal(back.regions() == ROI2, seg == 2)
    assert "erode 1x 3x3" in back.provenance["slices"]
    assert back.status == "partial"


def test_derive_store_with_organ_classes_and_2021_labels(tmp_path):
    grid = Grid((10, 10, 6), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    labels = np.zeros(grid.shape, np.uint8)
    labels[1:3, 2:8, 2:8] = 3
    labels[4, 4:6, 4:6] = 1
    store = derive_store(WeakLabelStore.open(tmp_path, grid=grid), labels, ["slices"])
    assert store.slice_labels("ET", "axial").tolist() == [0, 1, 1, 0, 0, 0]  # 3 read as enhancing
    assert store.slice_labels("TC", "axial").tolist() == [0, 1, 1, 0, 1, 0]
    organs = derive_store(WeakLabelStore.open(tmp_path / "o", grid=grid), labels, ["slices", "full"],
                          class_values={"lens": 1, "eye": 3}, config=DeriveConfig(axis="coronal"))
    assert organs.slice_labels("lens", "coronal").tolist() == [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    with pytest.raises(WeakSegError, match="not BraTS labels"):
        derive_store(WeakLabelStore.open(tmp_path / "x", grid=grid), labels + 5, ["slices"])


def test_cli_derive_show_and_status(tmp_path, capsys):
    write_case(tmp_path / "P1")
    out = tmp_path / "sidecar"
    assert main(["labels", "derive", str(tmp_path / "P1"), "--kind", "slices", "--kind", "regions", "--erode", "1",
                 "--out", str(out)]) == 0
    assert main(["labels", "status", str(tmp_path / "P1"), "reviewed", "--annotator", "dr x", "--sidecar", str(out)]) == 0
    capsys.readouterr()
    assert main(["labels", "show", str(tmp_path / "P1"), "--sidecar", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == "reviewed" and info["annotator"] == "dr x"
    assert info["kinds"] == ["slices", "regions"]
    assert main(["labels", "set-range", str(tmp_path / "P1"), "3", "12", "--class", "WT", "--sidecar", str(out)]) == 0
    assert WeakLabelStore.open(tmp_path, sidecar=out).slice_ranges("WT") == [(3, 12)]
    assert main(["labels", "show", str(tmp_path / "nothing")]) == 2
    assert "no weak-label sidecar" in capsys.readouterr().err
