"""The probabilities' float16 copy: bit-identical to NumPy's conversion, subnormals and specials included."""

from __future__ import annotations

import numpy as np

from weakseg.inference.engine import as_float16


def test_as_float16_matches_numpy_bit_for_bit_on_softmax_like_values():
    rng = np.random.default_rng(0)
    probs = rng.random((4, 7, 30, 20), dtype=np.float32) ** 12  # most values end up float16 subnormals or zero
    probs.flat[:12] = [0.0, -0.0, 1.0, 0.5, 6e-8, 3e-8, 5.96e-8, 6.1e-5, 65504.0, 65520.0, np.inf, np.nan]
    view = probs.transpose(0, 2, 1, 3)  # a strided view converts as well
    with np.errstate(over="ignore"):
        expected = view.astype(np.float16)
    out = as_float16(view)
    assert out.dtype == np.float16 and out.shape == view.shape
    assert np.array_equal(out.view(np.uint16), expected.view(np.uint16))
    assert (np.abs(expected[expected != 0]) < 6.1e-5).mean() > 0.2  # the test really exercises subnormals
