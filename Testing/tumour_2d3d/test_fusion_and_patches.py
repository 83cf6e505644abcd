"""Hierarchical voting thresholds (thesis §2.7) and 3D patch sampling (centres, padding, every class)."""

from __future__ import annotations

import numpy as np
import pytest

from weakseg.errors import WeakSegError
from weakseg.methods.tumour_2d3d import hierarchical_vote
from weakseg.training.patches3d import PatchConfig, PatchSampler, inside_mask, window


def _votes(*columns):
    """Class maps of n models over len(columns) voxels: columns[i] lists each model's class at voxel i."""
    return [np.array(models, np.uint8) for models in zip(*columns)]


def test_tumour_needs_40_percent_of_all_votes():
    # 5 models: 2 tumour votes (40 %) → tumour; 1 (20 %) → background
    out = hierarchical_vote(_votes([2, 2, 0, 0, 0], [2, 0, 0, 0, 0]))
    assert out.tolist() == [2, 0]


def test_core_and_enhancing_count_only_their_parents_votes():
    # voxel 0: tumour votes 2,2,1 → core share 1/3 ≥ 0.3 → core; enhancing share 0/1 → necrosis (1)
    # voxel 1: tumour votes 2,2,2,1 → core share 1/4 < 0.3 → edema
    # voxel 2: core votes 1,3 → enhancing share 1/2 ≥ 0.4 → enhancing; voxel 3: 1,1,3 → 1/3 < 0.4 → necrosis
    out = hierarchical_vote(_votes([2, 2, 1, 0], [2, 2, 2, 1], [1, 3, 0, 0], [1, 1, 3, 0]))
    assert out.tolist() == [1, 2, 3, 1]


def test_thresholds_are_inclusive_and_configurable():
    # 10 models, exactly 4 tumour votes: 0.4 is reached (≥), 0.5 is not
    column = [2] * 4 + [0] * 6
    assert hierarchical_vote(_votes(column)).tolist() == [2]
    assert hierarchical_vote(_votes(column), t_tumour=0.5).tolist() == [0]
    one = np.array([[0, 1], [2, 3]], np.uint8)
    assert np.array_equal(hierarchical_vote([one]), one)  # a single model is returned as it is
    with pytest.raises(WeakSegError, match="0..3"):
        hierarchical_vote([np.array([4], np.uint8)])
    with pytest.raises(WeakSegError, match=r"\(0, 1\]"):
        hierarchical_vote([one], t_core=0.0)


def test_windows_are_zero_padded_outside_the_volume():
    volume = np.arange(2 * 4 * 5 * 6, dtype=np.float32).reshape(2, 4, 5, 6) + 1
    win = window(volume, (-2, 1, 3), 4)
    assert win.shape == (2, 4, 4, 4)
    assert np.array_equal(win[:, 2:, :4, :3], volume[:, 0:2, 1:5, 3:6])
    assert (win[:, :2] == 0).all() and (win[:, :, :, 3:] == 0).all()
    assert np.array_equal(inside_mask((4, 5, 6), (-2, 1, 3), 4), win[0] != 0)


def test_sampler_centres_patches_and_every_class_is_in_the_batch_targets():
    rng = np.random.default_rng(0)
    classes = np.zeros((30, 30, 30), np.uint8)
    classes[10:14, 10:14, 10:14] = 2
    classes[11:13, 11:13, 11:13] = 1
    classes[12, 12, 12] = 3
    mr = rng.standard_normal((2, 30, 30, 30)).astype(np.float16)
    features = np.ones((3, 30, 30, 30), np.float16)
    brain = np.ones((30, 30, 30), bool)
    sampler = PatchSampler([(mr, features)], [classes], [brain], PatchConfig(22, 6, tumour_fraction=0.5), 4)
    inputs, labels, inside = sampler.draw(rng, 2)
    assert inputs.shape == (2, 5, 22, 22, 22) and inputs.dtype == np.float32 and labels.shape == (2, 22, 22, 22)
    assert set(np.unique(sampler.target(labels))) == {0, 1, 2, 3}
    assert ((inputs[:, 2:] == 1) == inside[:, None]).all()  # features where inside, zeros past the border
    only_tumour = PatchSampler([(mr,)], [classes], [brain], PatchConfig(22, 6, tumour_fraction=1.0), 4)
    _, labels, _ = only_tumour.draw(rng, 3)
    assert (labels[:, 11, 11, 11] > 0).all()  # a tumour voxel is at the centre of each window
    with pytest.raises(WeakSegError, match="tumour voxel"):
        PatchSampler([(mr,)], [np.zeros_like(classes)], [brain], PatchConfig(22, 6), 4)
