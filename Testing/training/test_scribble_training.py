"""Scribbles train the mixed method: strokes become class constraints, a partial loss learns from them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from weakseg.errors import WeakSegError
from weakseg.training import TrainConfig, read_events, train
from weakseg.training.scribbles import EVERY, forbidden_bits, partial_ce, partial_region_bce, shrink_bits

from weakseg_mrml.demo import TINY_MIXED_OPTIONS as TINY_OPTIONS


def test_strokes_become_forbidden_classes_and_a_thin_stroke_survives_shrinking():
    wt = np.full((1, 8, 8), -1, np.int8)
    wt[0, 2, 1:7] = 1  # a 1-pixel foreground stroke
    wt[0, 6, 1:7] = 0  # background
    et = np.full((1, 8, 8), -1, np.int8)
    et[0, 2, 1] = 0  # "not enhancing" on the first voxel of the WT stroke
    et[0, 6, 6] = 1  # contradicts the WT background stroke there
    bits = forbidden_bits({"WT": wt, "ET": et})
    assert bits[0, 2, 3] == 0b0001  # WT foreground: background forbidden
    assert bits[0, 2, 1] == 0b1001  # ... and not enhancing
    assert bits[0, 6, 3] == 0b1110  # WT background: every tumour class forbidden
    assert bits[0, 6, 6] == 0 and bits[0, 0, 0] == 0  # contradiction and no stroke: unconstrained
    small = shrink_bits(bits, (4, 4))
    assert (small[0, 1, 1:3] & 0b0001).all() and (small[0, 3, 1:3] == 0b1110).all()
    assert not (small == EVERY).any()


def test_partial_losses_reward_the_allowed_classes_only():
    bits = torch.zeros(1, 2, 2, dtype=torch.long)
    bits[0, 0, 0] = 0b0001  # tumour of some class
    bits[0, 1, 1] = 0b1110  # background
    good = torch.zeros(1, 4, 2, 2)
    good[0, 2, 0, 0] = 8.0  # edema where tumour was stroked
    good[0, 0, 1, 1] = 8.0
    bad = torch.zeros(1, 4, 2, 2)
    bad[0, 0, 0, 0] = 8.0
    bad[0, 3, 1, 1] = 8.0
    groups = [(0,), (1,), (2,), (3,)]
    assert partial_ce(good, bits, groups) < 0.01 < 5 < partial_ce(bad, bits, groups)
    assert partial_ce(bad, torch.zeros_like(bits), groups) == 0  # nothing stroked, nothing learnt
    regions_good = torch.full((1, 3, 2, 2), -8.0)
    regions_good[0, 0, 0, 0] = 8.0  # WT on at the tumour stroke; TC/ET undecided there
    regions_bad = -regions_good
    assert partial_region_bce(regions_good, bits) < 0.01 < 1 < partial_region_bce(regions_bad, bits)


def _config(dataset, out, **changes) -> TrainConfig:
    options = {**TINY_OPTIONS, **changes.pop("method_options", {})}
    return TrainConfig.from_dict({"method": "mixed", "dataset": str(dataset), "out": str(out), "iterations": 60,
                                  "seed": 5, "checkpoint_every": 60, "log_every": 10, "threads": 1, "device": "cpu",
                                  "progress_bar": False, "validation_cases": [], "amp": False,
                                  "method_options": options, **changes})


def test_scribbles_alone_teach_tumour_from_background(tiny_dataset, tmp_path):
    """Simulated strokes on the three phantoms, no full delineation: after 60 iterations the network puts
    more tumour probability inside the tumour than in the rest of the brain."""
    from weakseg.methods.mixed import MixedConfig
    from weakseg.methods.recipe import predict_stack
    from weakseg.models import load_model
    from weakseg.training.data import load_training_case

    config = _config(tiny_dataset, tmp_path / "run", full_cases=[], derive_weak=True,
                     derive_weak_kinds=["scribbles"], method_options={"branch": False, "k": 2, "m": 0, "n": 0,
                                                                      "s": 4, "lr": 0.02})
    model_dir = train(config)
    pools = next(e for e in read_events(tmp_path / "run" / "events.jsonl") if e["event"] == "start")["pools"]
    assert pools["scribbled"] > 0 and pools["full_positive"] == 0
    model = load_model(model_dir)
    method_config = MixedConfig.from_dict(model.card.training["method_config"])
    case = load_training_case(tiny_dataset / "Phantom_0001", method_config.data_config(), keep_full=True)
    probs = predict_stack(model.network, case.stack, regions=False, tta=False, size=case.classes_full.shape[-2:])
    tumour = 1.0 - probs[0]
    inside = case.classes_full > 0
    brain = (np.asarray(case.stack[0]) != 0)
    brain = torch.nn.functional.interpolate(torch.from_numpy(brain.astype(np.float32))[:, None],
                                            size=inside.shape[1:])[:, 0].numpy() > 0
    assert tumour[inside].mean() > tumour[brain & ~inside].mean() + 0.2


def test_strokes_from_the_weak_label_store_land_on_the_training_arrays(tiny_dataset, tmp_path):
    """A stroke saved in a case's store reaches the (cropped, shrunk) training slice it was drawn on."""
    from weakseg.labels import WeakLabelStore
    from weakseg.methods.mixed import MixedConfig
    from weakseg.training.data import load_training_case, weak_from_store

    folder = tmp_path / "case"
    shutil.copytree(tiny_dataset / "Phantom_0001", folder)
    store = WeakLabelStore.open(folder, create=True)
    truth = load_training_case(folder, MixedConfig(**{**TINY_OPTIONS, "inplane_downsample": 1}).data_config(),
                               keep_full=True)
    (z0, _), (y0, _), (x0, _) = truth.box
    z, y, x = np.argwhere(truth.classes_full > 0)[0]
    strokes = np.full(store.grid.shape, -1, np.int8)
    strokes[z0 + z, y0 + y, x0 + x] = 1
    store.set_scribble_labels("WT", strokes)
    store.save()
    case = weak_from_store(truth, WeakLabelStore.open(folder, create=False))
    assert case.scribbles[z, y, x] == 0b0001 and np.count_nonzero(case.scribbles) == 1
    store = WeakLabelStore.open(folder, create=False)
    store.set_scribble_labels("brainstem", strokes)
    with pytest.raises(WeakSegError, match="brainstem"):
        weak_from_store(truth, store)


def test_derived_kinds_are_checked_and_old_runs_still_resume(tiny_dataset, tmp_path):
    with pytest.raises(WeakSegError, match="derive_weak_kinds"):
        _config(tiny_dataset, tmp_path / "r", derive_weak_kinds=["regions"])
    from weakseg.training.config import check_resumable

    current = _config(tiny_dataset, tmp_path / "r").to_dict()
    saved = {k: v for k, v in current.items() if k != "derive_weak_kinds"}  # a run saved before the setting existed
    check_resumable(json.loads(json.dumps(saved)), current, tmp_path)
    with pytest.raises(WeakSegError, match="derive_weak_kinds"):
        check_resumable({**saved, "derive_weak_kinds": ["scribbles"]}, current, tmp_path)
