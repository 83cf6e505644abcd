"""Mask ⇄ contour geometry on single planes, and the ROI name table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from weakseg.rt.contours import ContourConfig, keyhole, plane_rings, rasterise_rings
from weakseg.rt.roi_table import load_roi_table, normalise

EXACT = ContourConfig(min_area_mm2=0.0, tolerance_mm=0.5)


@settings(max_examples=60, deadline=None)
@given(arrays(np.bool_, (14, 17)), st.sampled_from([(1.0, 1.0), (0.49, 0.49), (2.5, 0.9)]))
def test_any_mask_round_trips_exactly(mask, spacing):
    """Keyhole contours + even-odd fill give back every plane voxel for voxel, holes and islands included,
    with point reduction on (capped below the distance at which a pixel centre could change side)."""
    polygons = keyhole(plane_rings(mask, spacing, EXACT))
    assert np.array_equal(rasterise_rings(polygons, mask.shape), mask)


def test_ring_with_hole_and_island_gives_two_polygons():
    mask = np.zeros((30, 30), bool)
    mask[5:25, 5:25] = True
    mask[10:20, 10:20] = False
    mask[13:17, 13:17] = True
    rings = plane_rings(mask, (1.0, 1.0), EXACT)
    assert sorted(r.hole for r in rings) == [False, False, True]
    polygons = keyhole(rings)
    assert len(polygons) == 2  # the hole is spliced into its outer ring
    union = np.zeros_like(mask)
    for polygon in polygons:  # union (OR) readers such as plastimatch get the hole right too
        union |= rasterise_rings([polygon], mask.shape)
    assert np.array_equal(union, mask)


def test_minimum_area_drops_islands_and_fills_small_holes():
    mask = np.zeros((30, 30), bool)
    mask[5:20, 5:20] = True
    mask[10, 10] = False          # one-pixel hole
    mask[25, 25] = True           # one-pixel island
    rings = plane_rings(mask, (1.0, 1.0), ContourConfig(min_area_mm2=1.0))
    assert len(rings) == 1 and not rings[0].hole
    filled = rasterise_rings(keyhole(rings), mask.shape)
    assert filled[10, 10] and not filled[25, 25]


def test_point_reduction_respects_tolerance():
    yy, xx = np.mgrid[:200, :200]
    disc = (yy - 100) ** 2 + (xx - 100) ** 2 < 80 ** 2
    full = plane_rings(disc, (1.0, 1.0), ContourConfig(tolerance_mm=0.0))[0].points
    reduced = plane_rings(disc, (1.0, 1.0), ContourConfig(tolerance_mm=0.5))[0].points
    assert len(reduced) < 0.5 * len(full)
    # every original vertex lies within the (capped, 0.3 mm) tolerance of the reduced polygon
    closed = np.vstack([reduced, reduced[:1]])
    a, b = closed[:-1], closed[1:]
    ab = b - a
    t = np.clip(((full[:, None, :] - a[None]) * ab[None]).sum(-1) / (ab ** 2).sum(-1)[None], 0, 1)
    dist = np.linalg.norm(full[:, None, :] - (a[None] + t[..., None] * ab[None]), axis=-1).min(axis=1)
    assert dist.max() <= 0.3 + 1e-9


def test_smooth_blobs_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = ndimage.gaussian_filter(rng.random((50, 50)), 2) > 0.5
        assert np.array_equal(rasterise_rings(keyhole(plane_rings(mask, (0.8, 0.8), EXACT)), mask.shape), mask)


@pytest.mark.parametrize("name, expected", [
    ("Parotid-Lt", "Parotid_L"), ("L Parotid", "Parotid_L"), ("Left Parotid Gland", "Parotid_L"),
    ("PAROTID_R", "Parotid_R"), ("Optic-Nerve-Rt", "OpticNrv_R"), ("OpticNrv_L", "OpticNrv_L"),
    ("Brain Stem", "Brainstem"), ("Orbit-Lt", "Eye_L"), ("Submandibular-Rt", "Glnd_Submand_R"),
    ("Spinal-Canal", "SpinalCanal"), ("Cochlea_L", "Cochlea_L"), ("oedema", "edema"), ("ROI-1", None), ("Lung", None),
])
def test_roi_names_map_to_classes(name, expected):
    assert load_roi_table().lookup(name) == expected


def test_side_tokens_at_either_end():
    assert normalise("Lt_Lens") == normalise("Lens-L") == ("lens", "L")
    assert normalise("Brainstem") == ("brainstem", None)


def test_edited_table_is_used(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("class,tg263,variants\nBrainstem,Brainstem,tronco encefalico\n")
    assert load_roi_table(table).lookup("Tronco-Encefalico") == "Brainstem"


def test_holes_as_separate_nested_contours_are_read_even_odd():
    """Files from planning systems that write a hole as its own contour read back with the hole."""
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    mask[12:28, 12:28] = False
    mask[17:23, 17:23] = True
    rings = plane_rings(mask, (1.0, 1.0), EXACT)
    assert len(rings) == 3
    assert np.array_equal(rasterise_rings([r.points for r in rings], mask.shape), mask)
