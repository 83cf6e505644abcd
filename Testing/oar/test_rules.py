"""Each §4.4 post-processing rule on small arrays where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from weakseg.oar import rules
from weakseg.oar.optic_nerve import NerveConfig, centreline, fat_refine, landmark, optic_nerve, reconstruct


def ball(shape, centre, radius):
    z, y, x = np.indices(shape)
    return (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius ** 2


def test_majority_vote_needs_two_of_three():
    a, b, c = (np.zeros((1, 1, 4), bool) for _ in range(3))
    a[..., :3] = True
    b[..., 1:3] = True
    c[..., 2:] = True
    assert rules.majority_vote([a, b, c]).ravel().tolist() == [False, True, True, False]


def test_largest_component_keeps_only_the_biggest():
    mask = ball((20, 20, 40), (10, 10, 10), 5) | ball((20, 20, 40), (10, 10, 32), 3)
    kept = rules.largest_component(mask)
    assert kept[10, 10, 10] and not kept[10, 10, 32]
    assert not rules.largest_component(np.zeros((3, 3, 3), bool)).any()


def test_triplanar_filling_closes_holes_open_in_3d():
    """A sphere shell with a tunnel to the outside: 3D filling leaves it hollow, slice-wise filling does not."""
    from scipy import ndimage as ndi

    shell = ball((30, 30, 30), (15, 15, 15), 10) & ~ball((30, 30, 30), (15, 15, 15), 7)
    shell[15, 15, :15] = False  # tunnel along x from the cavity out
    assert not ndi.binary_fill_holes(shell)[15, 15, 15]
    filled = rules.fill_holes_triplanar(shell)
    assert filled[15, 15, 15] and filled[12, 15, 15]
    assert not filled[0, 0, 0]


@pytest.mark.parametrize("left_is_high_x", [True, False])
def test_left_right_split_uses_the_brain_box_and_the_direction(left_is_high_x):
    shape = (20, 20, 60)
    brain = np.zeros(shape, bool)
    brain[:, :, 10:50] = True  # box midpoint x = 29.5, not the array's 30 ... same side either way here
    organ = ball(shape, (10, 10, 18), 3) | ball(shape, (10, 10, 42), 3) | ball(shape, (10, 10, 45), 1)
    left, right = rules.split_left_right(organ, brain, left_is_high_x)
    high, low = (left, right) if left_is_high_x else (right, left)
    assert high[10, 10, 42] and high[10, 10, 45] and not high[10, 10, 18]
    assert low[10, 10, 18] and (left | right).sum() == organ.sum() and not (left & right).any()


def test_left_right_split_follows_a_shifted_head():
    """The head sits off-centre in the field of view: the brain box, not the array, decides the side."""
    shape = (10, 10, 100)
    brain = np.zeros(shape, bool)
    brain[:, :, 50:90] = True  # midpoint 69.5
    organ = ball(shape, (5, 5, 60), 2)  # right of the array centre, but in the brain's low half
    left, right = rules.split_left_right(organ, brain, True)
    assert right.sum() == organ.sum() and not left.any()
    assert rules.left_is_high_x_of((1, 0, 0, 0, 1, 0, 0, 0, 1)) and not rules.left_is_high_x_of((-1, 0, 0, 0, 1, 0, 0, 0, 1))


def test_small_eyes_are_removed():
    shape = (40, 40, 80)
    eyes = ball(shape, (20, 20, 20), 11) | ball(shape, (20, 20, 60), 5)  # 5.6 ml and 0.5 ml at 1 mm
    kept = rules.remove_small_components(eyes, 4000)
    assert kept[20, 20, 20] and not kept[20, 20, 60]


def test_lens_only_inside_the_eye_and_chiasm_halves():
    eye = ball((20, 20, 20), (10, 10, 10), 6)
    lens = ball((20, 20, 20), (10, 4, 10), 3)
    inside = rules.inside(lens, eye)
    assert inside.sum() < lens.sum() and not (inside & ~eye).any()
    chiasm = np.zeros((5, 5, 21), bool)
    chiasm[2, 2, 3:18] = True
    left, right = rules.split_at_barycentre(chiasm, True)
    assert left[2, 2, 17] and right[2, 2, 3] and (left | right).sum() == 15 and not (left & right).any()


def nerve_scene():
    """An eye at the front (low y), a chiasm behind it, a straight nerve between, a bright fat blob beside it."""
    shape = (30, 70, 40)
    eye = ball(shape, (15, 10, 20), 8)
    chiasm = np.zeros(shape, bool)
    chiasm[13:18, 58:62, 14:26] = True
    z, y, x = np.indices(shape)
    nerve = ((z - 15) ** 2 + (x - 20) ** 2 <= 4) & (y > 16) & (y < 59)
    image = np.full(shape, 0.5, np.float32)
    image[eye] = 0.2
    fat = ball(shape, (15, 22, 25), 3)
    image[fat] = 1.4
    return shape, eye, chiasm, nerve, image, fat


def test_landmarks_fat_refinement_and_centreline():
    shape, eye, chiasm, nerve, image, fat = nerve_scene()
    l1 = landmark(nerve, eye, 30)
    l2 = landmark(chiasm, nerve, 30)
    assert l1[1] < 22 and l2[1] > 56  # eye end in front, chiasm end behind
    initial = nerve | fat
    refined = fat_refine(initial, image, l1, NerveConfig.for_spacing(1.0))
    assert not (refined & fat).any() and (refined & nerve & ~fat).sum() == (nerve & ~fat).sum()
    path = centreline(refined, l1, l2, NerveConfig.for_spacing(1.0))
    assert np.all(np.diff(path[:, 1]) == 1)  # one voxel per layer, strictly posterior
    assert np.all(np.abs(np.diff(path[:, [0, 2]], axis=0)) <= 1)
    assert refined[tuple(path[len(path) // 2])]


def test_centreline_bridges_an_unreachable_target():
    positive = np.zeros((10, 12, 40), bool)
    path = centreline(positive, np.array([5, 0, 2]), np.array([5, 5, 30]), NerveConfig.for_spacing(1.0))
    assert tuple(path[-1]) == (5, 5, 30) and path[0, 1] == 0


def test_optic_nerve_is_one_component_from_eye_to_chiasm_despite_a_gap_and_fat():
    from scipy import ndimage as ndi

    shape, eye, chiasm, nerve, image, fat = nerve_scene()
    broken = nerve.copy()
    broken[:, 35:40] = False  # the network missed a piece
    rebuilt = optic_nerve(broken | fat, eye, chiasm, image, NerveConfig.for_spacing(1.0))
    assert ndi.label(rebuilt)[1] == 1
    assert rebuilt[:, 37].any() and not (rebuilt & fat & ~nerve).any()
    ys = np.flatnonzero(rebuilt.any((0, 2)))
    assert ys.min() <= 22 and ys.max() >= 55
    overlap = 2 * (rebuilt & nerve).sum() / (rebuilt.sum() + nerve.sum())
    assert overlap > 0.7


def test_reconstruct_core_balls_survive_without_support():
    refined = np.zeros((20, 30, 20), bool)
    path = np.array([[10, y, 10] for y in range(5, 25)])
    out = reconstruct(path, refined, np.array([10, 5, 10]), np.array([10, 24, 10]), NerveConfig.for_spacing(0.7))
    assert out[10, 15, 10] and out[10, 15, 12] and not out[10, 15, 14]  # radius 2.5 voxels at 0.7 mm
