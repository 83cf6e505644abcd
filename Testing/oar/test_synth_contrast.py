"""Painting OAR training images: tied jitter keeps one tissue one intensity, as on a real T1."""

import numpy as np

from weakseg.phantom.label_sources import FS_T1, _compact
from weakseg.phantom.synth_contrast import SynthConfig, draw_lut

# background, cerebral WM, cortex, hippocampus, amygdala, lateral ventricle, two labels with no prior
LABELS = np.array([0, 2, 3, 17, 18, 4, 9999, 9998])


def lut_per_label(config: SynthConfig, seed: int) -> dict[int, float]:
    gen, prior = _compact(LABELS.reshape(1, 1, -1), FS_T1)
    counts = np.bincount(gen.ravel(), minlength=len(prior)).astype(np.float64) * 100
    lut = draw_lut(prior, counts, np.random.default_rng(seed), config)
    return {int(label): float(lut[g]) for label, g in zip(LABELS, gen.ravel())}


def test_tied_jitter_keeps_grey_matter_labels_equal_and_tissues_apart():
    config = SynthConfig(prior_fraction=1.0, tie_jitter=True)
    for seed in range(50):
        lut = lut_per_label(config, seed)
        assert lut[3] == lut[17] == lut[18]  # cortex, hippocampus, amygdala: all grey matter (prior 0.6)
        assert lut[2] != lut[3] and lut[4] != lut[3]  # white matter and CSF keep their own draws
        assert lut[9999] != lut[9998]  # labels without a prior stay independently random


def test_untied_jitter_separates_grey_matter_labels():
    config = SynthConfig(prior_fraction=1.0, tie_jitter=False)
    differ = [lut_per_label(config, seed)[17] != lut_per_label(config, seed)[3] for seed in range(20)]
    assert all(differ)


def test_tied_draws_keep_the_t1_order_of_tissues_on_average():
    config = SynthConfig(prior_fraction=1.0, tie_jitter=True)
    luts = [lut_per_label(config, seed) for seed in range(200)]
    mean = {label: np.mean([lut[label] for lut in luts]) for label in (2, 3, 4)}
    assert mean[2] > mean[3] > mean[4]  # white matter brighter than grey matter brighter than CSF


def test_random_contrast_draws_are_untouched_by_the_option():
    tied = lut_per_label(SynthConfig(prior_fraction=0.0, tie_jitter=True), 7)
    untied = lut_per_label(SynthConfig(prior_fraction=0.0, tie_jitter=False), 7)
    assert tied == untied and tied[3] != tied[17]
