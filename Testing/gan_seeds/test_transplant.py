"""The converter's inpainting term: lesions pasted onto tumour-free slices, with a known healthy answer."""

import numpy as np
import pytest

from weakseg.errors import WeakSegError
from weakseg.methods.gan_seeds.config import GanSeedsConfig
from weakseg.methods.gan_seeds.gan import transplant_batch


def slices(n: int = 6, size: int = 16, seed: int = 0):
    """Brains of different extents (0 outside), lesions on the tumour slices, and their negative seeds."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    x = np.zeros((n, 1, size, size), np.float32)
    negative = np.ones((n, size, size), bool)
    for i in range(n):
        radius = 5 + i % 3
        brain = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < radius ** 2
        x[i, 0] = np.where(brain, rng.uniform(0.3, 0.6, (size, size)), 0)
        if i >= 3:  # tumour slices: a bright lesion, no negative seed on it or in a band around it
            lesion = (yy - 7) ** 2 + (xx - 9) ** 2 < 4
            band = (yy - 7) ** 2 + (xx - 9) ** 2 < 12
            x[i, 0][lesion & brain] = 1.0
            negative[i] = ~band
    return x, negative, np.arange(3), np.arange(3, n)


def test_the_pasted_region_is_the_donors_lesion_and_band_inside_both_brains():
    x, negative, healthy, tumour = slices()
    pasted, target, mask = transplant_batch(x, negative, healthy, tumour, np.random.default_rng(1), 32)
    assert pasted.shape == target.shape == mask.shape == (32, 1, 16, 16)
    inside = mask > 0
    assert inside.any(1).any() and (target[inside] > 0).all()  # only where the tumour-free slice has brain
    # the target is always a tumour-free slice, and outside the mask the input is that slice unchanged
    assert all(any(np.array_equal(t, x[h]) for h in healthy) for t in target)
    assert np.array_equal(pasted[~inside], target[~inside])
    # inside the mask the input holds a donor's pixels, which include its lesion (never on a tumour-free slice)
    assert (pasted[inside] == 1.0).any() and not (target == 1.0).any()
    donor_region = [~negative[t] for t in tumour]
    assert all(any(not (m[0] & ~d).any() for d in donor_region) for m in inside)


def test_no_mask_where_the_donor_has_negative_seeds():
    x, negative, healthy, tumour = slices()
    negative[tumour] = True  # seeds covering every pixel: nothing is left to paste
    _, _, mask = transplant_batch(x, negative, healthy, tumour, np.random.default_rng(2), 8)
    assert not mask.any()


def test_inpaint_is_off_by_default_and_checked():
    assert GanSeedsConfig().inpaint == 0.0
    with pytest.raises(WeakSegError, match="inpaint"):
        GanSeedsConfig(inpaint=-1)


def test_stage_b_trains_the_inpainting_term_only_when_asked():
    """Stage B's real batch and loss on a small bank: the term appears, is finite and reaches U's weights."""
    from types import SimpleNamespace

    import torch

    from weakseg.methods.gan_seeds.gan import GanBStage

    x, negative, healthy, tumour = slices(n=12, size=16)
    y = np.isin(np.arange(12), tumour).astype(np.int64)
    bank = SimpleNamespace(x=x, y=y, counts=lambda: {})
    negative[tumour[:2]] |= np.random.default_rng(0).random((2, 16, 16)) < 0.3
    context = SimpleNamespace(bank_for=lambda cases: bank, probabilities=np.where(y == 1, 0.9, 0.1),
                              seeds={"negative": negative}, generator_state=None)
    for weight in (0.0, 10.0):
        options = GanSeedsConfig(size=16, gan_base=4, nz=8, batch=4, inpaint=weight, u_subset="gt")
        stage = GanBStage(options, context)
        stage.prepare([], None)
        network = stage.build_network()
        batch = stage.draw_batch(np.random.default_rng(3))
        assert ("pasted" in batch) == (weight > 0)
        loss, info = stage.loss(network, batch)
        assert ("inpaint" in info) == (weight > 0) and torch.isfinite(loss)
        if weight:
            assert info["inpaint"] > 0
            loss.backward()
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in network.g.parameters())
