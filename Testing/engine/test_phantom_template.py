"""The realistic variant on nilearn's MNI152 template: geometry, labels, and no network."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pytest

from weakseg.errors import WeakSegError
from weakseg.io.image import orientation_code
from weakseg.phantom import PhantomConfig, make_tumour_case
from weakseg.phantom import template as mni


def test_missing_nilearn_gives_install_hint(monkeypatch):
    mni._mni152_on_brats_grid.cache_clear()
    monkeypatch.setitem(sys.modules, "nilearn", None)  # what an environment without nilearn looks like
    with pytest.raises(WeakSegError, match=r"pip install weakseg\[template\]"):
        make_tumour_case(PhantomConfig(template="mni152"))


def test_mni_variant_needs_no_network_and_sits_like_a_brats_brain(monkeypatch, tmp_path):
    pytest.importorskip("nilearn")

    def refuse(*args, **kwargs):
        raise OSError("network access attempted during phantom generation")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NILEARN_DATA", str(tmp_path / "nilearn_data"))
    mni._mni152_on_brats_grid.cache_clear()

    brain, shape, spacing = mni.mni152_brain(PhantomConfig(template="mni152"))
    assert shape == (155, 240, 240) and spacing == (1.0, 1.0, 1.0)
    idx = np.argwhere(brain.mask)
    assert idx.max(axis=0)[0] == mni.BRATS_BRAIN_TOP  # vertex where BraTS brains reach
    assert np.allclose(idx.mean(axis=0)[1:], (134, 119), atol=8)  # centred like BraTS 2018 brains
    assert 1.2e6 < brain.mask.sum() < 2.0e6  # an adult brain, in ml
    wm_t1 = np.median(brain.t1[brain.fractions[2] > 0.9])
    gm_t1 = np.median(brain.t1[brain.fractions[1] > 0.9])
    assert wm_t1 == pytest.approx(1.0, abs=0.02) and 0.6 < gm_t1 < 0.9  # real T1 contrast

    case = make_tumour_case(PhantomConfig.preset("tiny", template="mni152", seed=2))
    t1 = case.images["t1"]
    assert t1.GetSize() == (48, 48, 32) and orientation_code(t1) == "LPS"
    assert np.allclose(np.array(t1.GetSize()) * np.array(t1.GetSpacing()), (240, 240, 155))
    labels = np.asarray(case.array("labels"))
    assert set(np.unique(labels)) == {0, 1, 2, 4}
    assert not np.any(labels[np.asarray(case.array("brain_mask")) == 0])
    assert list(tmp_path.iterdir()) == []  # nothing downloaded or cached
