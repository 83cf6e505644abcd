"""The shared recipe trains (softmax and region outputs), resumes exactly, and its post-processing rules hold."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from weakseg.errors import Cancelled, WeakSegError
from weakseg.methods.mixed import MixedConfig
from weakseg.methods.recipe import RecipeConfig, decode, postprocess, predict_stack, small_et_to_core
from weakseg.models import ModelCard, load_model
from weakseg.training import TrainConfig, read_events, train
from weakseg.training.data import load_training_case

from conftest import TINY_OPTIONS


def sitk_array(image):
    import SimpleITK as sitk

    return sitk.GetArrayViewFromImage(image)


def _config(dataset, out, **options):
    return TrainConfig(dataset=str(dataset), out=str(out), iterations=4, seed=3, checkpoint_every=2, threads=1, log_every=1,
                       device="cpu", progress_bar=False, validation_cases=["Phantom_0002"], validate_every=2,
                       method_options={**TINY_OPTIONS, "normalisation": "zscore", **options})


@pytest.mark.parametrize("output", ["softmax", "regions"])
def test_recipe_trains_and_card_states_it(tiny_dataset, tmp_path, output):
    model_dir = train(_config(tiny_dataset, tmp_path / "run", recipe={"output": output}))
    card = ModelCard.read(model_dir / "card.json")
    assert card.inference["output"] == output and card.inference["tta"] is True
    assert "brain-masked z-score" in card.training["recipe_description"]
    assert "augmentation: flips" in card.training["recipe_description"]
    assert card.preprocessing["normalisation"] == "zscore"
    assert card.network["config"]["n_classes"] == (3 if output == "regions" else 4)
    losses = [e["loss_seg"] for e in read_events(tmp_path / "run" / "events.jsonl") if e["event"] == "iteration"]
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert set(card.metrics["final"]) == {"dice_WT", "dice_TC", "dice_ET", "dice_mean"}
    # the prediction path: probabilities of the right kind, labels nested
    model = load_model(model_dir)
    case = load_training_case(tiny_dataset / "Phantom_0002", MixedConfig.from_dict(card.training["method_config"]).data_config(),
                              keep_full=True)
    probs = predict_stack(model.network, case.stack, regions=output == "regions", tta=True,
                          size=case.classes_full.shape[-2:])
    assert probs.shape[0] == (3 if output == "regions" else 4) and probs.shape[1:] == case.classes_full.shape
    if output == "softmax":
        np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-4)
    assert set(np.unique(decode(probs, output == "regions")).tolist()) <= {0, 1, 2, 3}
    # whole-case inference follows the card: its activation, its TTA unless told otherwise, nested labels
    from weakseg.inference import InferenceConfig, segment_case
    from weakseg.io import load_case

    whole = load_case(tiny_dataset / "Phantom_0002")
    result = segment_case(whole, model, InferenceConfig(device="cpu", threads=1))
    assert result.provenance["tta"] is True and result.probabilities.shape[0] == 4
    np.testing.assert_allclose(result.probabilities.astype(np.float32).sum(0), 1.0, atol=2e-3)
    assert set(np.unique(sitk_array(result.labels)).tolist()) <= {e.value for e in card.labels} | {0}
    assert segment_case(whole, model, InferenceConfig(device="cpu", threads=1, tta=False)).provenance["tta"] is False


def test_augmented_run_resumes_to_the_same_weights(tiny_dataset, tmp_path):
    config = replace(_config(tiny_dataset, tmp_path / "a", recipe={}), iterations=6, validation_cases=[],
                     validate_every=0)
    straight = train(config)
    interrupted = replace(config, out=str(tmp_path / "b"), log_every=1)
    cancel = threading.Event()

    def progress(event):
        if event.get("event") == "iteration" and event["iteration"] >= 2:
            cancel.set()

    with pytest.raises(Cancelled):
        train(interrupted, progress, cancel)
    resumed = train(replace(interrupted, resume=True))
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    starts = [e for e in read_events(tmp_path / "b" / "events.jsonl") if e["event"] == "start"]
    assert [s["resumed"] for s in starts] == [False, True]


def test_recipe_options_are_checked():
    with pytest.raises(WeakSegError, match="unknown recipe option"):
        MixedConfig.from_dict({"recipe": {"agument": True}})
    with pytest.raises(WeakSegError, match="augmentation option"):
        MixedConfig.from_dict({"recipe": {"augmentation": {"p_flp": 0.5}}})
    with pytest.raises(WeakSegError, match="region outputs"):
        MixedConfig.from_dict({"mode": "WT", "recipe": {"output": "regions"}})
    resolved = MixedConfig.from_dict({"recipe": {}}).recipe
    assert resolved == RecipeConfig().to_dict()  # stored resolved: the card and resume see every setting


def test_small_et_becomes_core_and_regions_decode_nested():
    classes = np.zeros((4, 8, 8), np.uint8)
    classes[1:3, 2:6, 2:6] = 2
    classes[2, 3:5, 3:5] = 3  # 4 enhancing voxels
    assert (small_et_to_core(classes, 5) == 3).sum() == 0 and (small_et_to_core(classes, 5) == 1).sum() == 4
    assert np.array_equal(small_et_to_core(classes, 4), classes)  # not smaller than the threshold
    assert np.array_equal(small_et_to_core(classes, 0), classes)
    island = classes.copy()
    island[0, 0, 0] = 2
    cleaned = postprocess(island, RecipeConfig(min_component_fraction=0.1, et_min_voxels=5))
    assert cleaned[0, 0, 0] == 0 and (cleaned == 1).sum() == 4
    probs = np.zeros((3, 1, 1, 4), np.float32)
    probs[:, 0, 0] = [[0.9, 0.9, 0.9, 0.1], [0.9, 0.9, 0.1, 0.9], [0.9, 0.1, 0.1, 0.9]]  # WT, TC, ET per voxel
    assert decode(probs, True)[0, 0].tolist() == [3, 1, 2, 0]  # ET/TC outside WT are not painted


def test_fold_ensemble_averages_the_networks_probabilities():
    from weakseg.nn.unet2d import UNet2D

    torch.manual_seed(0)
    config = MixedConfig.from_dict({**TINY_OPTIONS, "recipe": {}}).network_config()
    a, b = UNet2D(config), UNet2D(config)
    stack = np.random.default_rng(0).standard_normal((4, 3, 16, 16)).astype(np.float16)
    pa, pb = (predict_stack(n, stack, tta=False) for n in (a, b))
    both = predict_stack([a, b], stack, tta=False)
    np.testing.assert_allclose(both, (pa + pb) / 2, atol=1e-5)
    mirrored = predict_stack(a, stack[..., ::-1].copy(), tta=False)[..., ::-1]
    np.testing.assert_allclose(predict_stack(a, stack, tta=True), (pa + mirrored) / 2, atol=1e-5)


def test_card_inference_section_drives_the_labels():
    from weakseg.methods.recipe import classes_from_probabilities

    probs = np.zeros((4, 3, 8, 8), np.float32)
    probs[0] = 1.0
    probs[:, 1, 1:5, 1:5] = [[[0.0]], [[0.0]], [[1.0]], [[0.0]]]  # edema block
    probs[:, 1, 2, 2] = [0.0, 0.0, 0.0, 1.0]  # one enhancing voxel
    probs[:, 0, 7, 7] = [0.0, 0.0, 1.0, 0.0]  # a distant 1-voxel island
    plain = classes_from_probabilities(probs, {})
    assert plain[0, 7, 7] == 2 and plain[1, 2, 2] == 3
    recipe = classes_from_probabilities(probs, {"output": "softmax", "min_component_fraction": 0.1, "et_min_voxels": 10})
    assert recipe[0, 7, 7] == 0 and recipe[1, 2, 2] == 1
    assert classes_from_probabilities(probs, {"min_component_fraction": 0.1}, min_component_fraction=0)[0, 7, 7] == 2
