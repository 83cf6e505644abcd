"""Surface distances (HD95, HD, ASSD): hand-checked boxes with anisotropic spacing, brute force with cdist,
SimpleITK's Hausdorff filter, MONAI's directed-percentile variant, empty masks, a real small organ."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.spatial.distance import cdist

from weakseg.metrics import array_spacing, diagonal_mm, distance_metrics, hd95, surface


def _box(shape=(10, 10, 10), lo=(2, 2, 2), size=(4, 4, 4)):
    mask = np.zeros(shape, bool)
    mask[tuple(slice(l, l + s) for l, s in zip(lo, size))] = True
    return mask


def test_offset_cubes_anisotropic_hand_checked():
    # A = 4x4x4 cube at [2:6]^3 (56 surface voxels), B = A shifted by one voxel along z; spacing
    # (z, y, x) = (2, 1, 1) mm. A -> B: A's bottom face (16 voxels at z=2) is one slice = 2 mm from
    # B's bottom face; the 4 inner voxels of A's top face (z=5) lie inside B, 1 mm in-plane from B's
    # side ring (2 mm from B's top face); the other 36 are on B's surface (0 mm). B -> A mirrors this.
    # Pooled: 72 zeros, 8 ones, 32 twos (112 values) -> 95th percentile at rank 105.45 -> 2 mm.
    a = _box()
    b = _box(lo=(3, 2, 2))
    m = distance_metrics(a, b, (2.0, 1.0, 1.0))
    assert m["hd95_mm"] == pytest.approx(2.0)
    assert m["hd_mm"] == pytest.approx(2.0)
    assert m["assd_mm"] == pytest.approx((8 * 1 + 32 * 2) / 112)
    # The same shift along x (1 mm spacing): every non-zero distance is 1 mm.
    c = _box(lo=(2, 2, 3))
    mx = distance_metrics(a, c, (2.0, 1.0, 1.0))
    assert mx["hd95_mm"] == pytest.approx(1.0) and mx["hd_mm"] == pytest.approx(1.0)
    assert mx["assd_mm"] == pytest.approx((16 * 1 + 4 * 1) * 2 / 112)


def test_hd95_ignores_a_single_outlier_hd_does_not():
    # B = A plus one isolated voxel at (z, y, x) = (8, 5, 9). Nearest voxel of A's surface: (5, 5, 5),
    # 3 slices and 4 columns away: sqrt((3*2)^2 + 4^2) = sqrt(52) mm with spacing (2, 1, 1). All other
    # 112 pooled distances are 0 (identical cube surfaces), so HD95 = 0 and HD = sqrt(52).
    a = _box(shape=(10, 10, 12))
    b = a.copy()
    b[8, 5, 9] = True
    m = distance_metrics(a, b, (2.0, 1.0, 1.0))
    assert m["hd95_mm"] == 0.0
    assert m["hd_mm"] == pytest.approx(math.sqrt(52))
    assert m["assd_mm"] == pytest.approx(math.sqrt(52) / 113)


def _brute_force(a, b, spacing, pooled=True):
    """Independent HD95/HD: surfaces by explicit 6-neighbour tests, distances by all-pairs cdist."""
    def surf_points(mask):
        padded = np.pad(mask, 1)
        inner = np.ones_like(mask)
        for axis in range(3):
            for step in (-1, 1):
                inner &= np.roll(padded, step, axis=axis)[1:-1, 1:-1, 1:-1]
        return np.argwhere(mask & ~inner) * np.asarray(spacing)
    pa, pb = surf_points(a), surf_points(b)
    d = cdist(pa, pb)
    ab, ba = d.min(axis=1), d.min(axis=0)
    both = np.concatenate([ab, ba])
    p95 = np.percentile(both, 95) if pooled else max(np.percentile(ab, 95), np.percentile(ba, 95))
    return p95, both.max(), both.mean()


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(6, 14, size=3))
    spacing = tuple(rng.choice([0.5, 0.98, 1.0, 2.5, 3.0], size=3))
    a = rng.random(shape) < rng.uniform(0.05, 0.5)  # touches the volume border: checks the crop margin
    b = rng.random(shape) < rng.uniform(0.05, 0.5)
    if seed % 2:  # a compact mask far from the border too, so the crop really cuts
        a = np.zeros(shape, bool)
        a[2:5, 2:5, 2:4] = True
        a[3, 3, 4] = True
    p95, hd, assd = _brute_force(a, b, spacing)
    m = distance_metrics(a, b, spacing)
    assert m["hd95_mm"] == pytest.approx(p95)
    assert m["hd_mm"] == pytest.approx(hd)
    assert m["assd_mm"] == pytest.approx(assd)
    assert distance_metrics(a, b, spacing, pooled=False)["hd95_mm"] == pytest.approx(_brute_force(a, b, spacing, False)[0])


def _ellipsoid(shape, centre, radii):
    zz, yy, xx = np.ogrid[tuple(slice(0, n) for n in shape)]
    return ((zz - centre[0]) / radii[0]) ** 2 + ((yy - centre[1]) / radii[1]) ** 2 + ((xx - centre[2]) / radii[2]) ** 2 <= 1


@pytest.mark.parametrize("shift", [(0, 0, 3), (2, 1, 0), (1, 3, 2)])
def test_hausdorff_matches_simpleitk_with_image_spacing(shift):
    # Partly overlapping convex shapes: the voxel-set Hausdorff of ITK equals the surface one.
    shape = (20, 24, 28)
    a = _ellipsoid(shape, (9, 11, 12), (5, 6, 7))
    b = _ellipsoid(shape, tuple(c + s for c, s in zip((9, 11, 12), shift)), (4, 7, 6))
    images = []
    for mask in (a, b):
        img = sitk.GetImageFromArray(mask.astype(np.uint8))
        img.SetSpacing((0.8, 1.2, 2.5))  # (x, y, z), as ITK orders it
        images.append(img)
    f = sitk.HausdorffDistanceImageFilter()
    f.Execute(*images)
    spacing = array_spacing(images[0])
    assert spacing == (2.5, 1.2, 0.8)
    assert distance_metrics(a, b, spacing)["hd_mm"] == pytest.approx(f.GetHausdorffDistance(), rel=1e-6)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("seed", [3, 4])
def test_directed_variant_matches_monai(seed):
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    rng = np.random.default_rng(seed)
    a = rng.random((12, 10, 9)) < 0.3
    b = rng.random((12, 10, 9)) < 0.2
    spacing = (2.0, 1.0, 0.7)
    ref = monai_metrics.compute_hausdorff_distance(torch.tensor(a[None, None]), torch.tensor(b[None, None]),
                                                   percentile=95, spacing=spacing).item()
    assert distance_metrics(a, b, spacing, pooled=False)["hd95_mm"] == pytest.approx(ref, rel=1e-5)


def test_empty_masks():
    empty = np.zeros((6, 6, 6), bool)
    some = _box(shape=(6, 6, 6), lo=(1, 1, 1), size=(2, 2, 2))
    assert distance_metrics(empty, empty, (1, 1, 1)) == {"hd95_mm": 0.0, "hd_mm": 0.0, "assd_mm": 0.0}
    assert distance_metrics(empty, some, (1, 1, 1))["hd95_mm"] == math.inf
    assert hd95(some, empty) == math.inf


def test_surface_of_a_cube_and_a_single_voxel():
    assert surface(_box()).sum() == 64 - 8  # 4^3 minus the 2^3 interior
    single = np.zeros((3, 3, 3), bool)
    single[1, 1, 1] = True
    assert surface(single).sum() == 1


def test_brats_diagonal_penalty():
    assert diagonal_mm((155, 240, 240), (1.0, 1.0, 1.0)) == pytest.approx(373.1287, abs=1e-4)


def test_real_small_organ_anisotropic(shared_data):
    # A 26-voxel cochlea on a 0.98 x 0.98 x 2.5 mm CT grid, against itself shifted by one slice.
    path = shared_data / "oar" / "deepmind_hn_ct" / "0522c0017_oncologist" / "Cochlea-Lt.nrrd"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    image = sitk.ReadImage(str(path))
    truth = sitk.GetArrayFromImage(image).astype(bool)
    pred = np.roll(truth, 1, axis=0)
    spacing = array_spacing(image)
    assert spacing == pytest.approx((2.5, 0.98, 0.98))
    p95, hd, assd = _brute_force(pred, truth, spacing)
    m = distance_metrics(pred, truth, spacing)
    assert m["hd95_mm"] == pytest.approx(p95) and m["hd_mm"] == pytest.approx(hd)
    assert m["hd_mm"] >= 2.5 - 1e-9  # a whole slice moved: some surface voxel is a slice away from the other surface
