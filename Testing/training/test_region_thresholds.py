"""Region thresholds on softmax outputs: the decode the shipped path uses, and the CV script's Dice tables agree."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from experiments import tumour_cv_thresholds as rt  # noqa: E402

from weakseg.methods.recipe import classes_from_probabilities, decode  # noqa: E402
from weakseg.metrics import confusion, dice  # noqa: E402
from weakseg.training.losses import REGION_CLASSES  # noqa: E402


def _softmax_case(seed: int = 0, shape=(12, 40, 40)):
    """A blob lesion (edema shell, core, enhancing rim) with noisy class probabilities and a stray island."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    r = np.sqrt((z - 6) ** 2 * 4 + (y - 20) ** 2 + (x - 18) ** 2)
    truth = np.select([r < 4, r < 6, r < 11], [1, 3, 2], 0).astype(np.uint8)
    logits = rng.normal(0, 1.2, (4, *shape))
    for c in range(4):
        logits[c] += 2.5 * (truth == c)
    logits[2, 2:4, 2:5, 2:5] += 4  # an island of edema far from the lesion
    e = np.exp(logits - logits.max(0))
    return (e / e.sum(0)).astype(np.float32), truth


def test_thresholds_paint_nested_regions_from_the_softmax_sums():
    probs, _ = _softmax_case()
    labels = decode(probs, False, (0.5, 0.5, 0.5))
    wt, tc, et = 1 - probs[0] > 0.5, probs[1] + probs[3] > 0.5, probs[3] > 0.5
    assert np.array_equal(labels > 0, wt)
    assert np.array_equal(np.isin(labels, (1, 3)), tc & wt) and np.array_equal(labels == 3, et & tc & wt)
    assert not np.array_equal(labels, decode(probs, False))  # the argmax differs where no class has a majority
    low = decode(probs, False, (0.3, 0.5, 0.5))
    assert (low > 0).sum() > (labels > 0).sum() and np.all(low[labels > 0] > 0)  # a lower WT threshold only adds


@pytest.mark.parametrize("seed", [0, 1])
def test_the_cv_tables_score_exactly_what_the_card_would_segment(seed):
    probs, truth = _softmax_case(seed)
    table = rt.case_table(probs, truth, 0.1)
    rng = np.random.default_rng(seed)
    m = rt.GRID.index(0.5)
    for i, j, k in [(m, m, m), *rng.integers(0, len(rt.GRID), (6, 3))]:
        thresholds = [rt.GRID[i], rt.GRID[j], rt.GRID[k]]
        classes = classes_from_probabilities(probs, {"region_thresholds": thresholds, "min_component_fraction": 0.1})
        direct = {r: dice(confusion(np.isin(classes, REGION_CLASSES[r]), np.isin(truth, REGION_CLASSES[r])))
                  for r in ("WT", "TC", "ET")}
        assert table["WT"][i] == pytest.approx(direct["WT"])
        assert table["TC"][i][j] == pytest.approx(direct["TC"])
        assert table["ET"][i][j][k] == pytest.approx(direct["ET"])


def test_each_fold_gets_thresholds_chosen_on_the_other_folds_only():
    n, m = len(rt.GRID), rt.GRID.index(0.5)

    def table(best_wt: int) -> dict:  # WT Dice peaks at one grid index; TC/ET flat
        wt = [1.0 - 0.1 * abs(i - best_wt) for i in range(n)]
        return {"WT": wt, "TC": [[0.5] * n] * n, "ET": [[[0.4] * n] * n] * n}

    low, high = m - 2, m + 2
    folds = {0: {"a": table(low)}, 1: {"b": table(high), "c": table(high)}, 2: {"d": table(high)}}
    scores, chosen = rt.nested_scores(folds)
    assert chosen[0][0] == rt.GRID[high]  # fold 0's own optimum is never used for it
    assert chosen[1][0] == rt.GRID[m]  # folds 0 + 2 peak at low and high: every index between ties → closest to 0.5
    assert scores["a"]["WT"] == pytest.approx(1.0 - 0.4) and scores["a"]["fold"] == 0
    assert chosen[0][1:] == [0.5, 0.5]  # flat TC/ET: ties go to 0.5
