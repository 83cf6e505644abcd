"""Inference, the difference-score filter, export helpers, resume and the slice-label store path."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.errors import WeakSegError


@pytest.fixture(scope="module")
def model(gs_run):
    from weakseg.models import load_model

    return load_model(gs_run / "model")


def test_segment_cli_writes_scores_and_flags_on_the_case_grid(gs_dataset, gs_run, cli, tmp_path):
    case = gs_dataset / "Phantom_0001"
    done = cli("segment", str(case), "--model", str(gs_run / "model"), "--out", str(tmp_path), "--case-id", "c1",
               "--preprocess", "none")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = list(csv.DictReader(open(tmp_path / "c1_slices.csv")))
    assert {"difference_score", "flagged", "p_whole tumour"} <= set(rows[0])
    labels = sitk.ReadImage(str(tmp_path / "c1_labels.nii.gz"))
    flair = sitk.ReadImage(str(next(case.glob("*flair*"))))
    assert labels.GetSize() == flair.GetSize() and labels.GetOrigin() == flair.GetOrigin()
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(next(case.glob("*seg*"))))) > 0
    pred = sitk.GetArrayFromImage(labels) > 0
    # learnt from slice labels only, in a minute, on 5 mm phantoms: well above an empty or random mask
    assert 2 * (pred & truth).sum() / (pred.sum() + truth.sum()) > 0.2
    scores = np.array([float(r["difference_score"]) for r in rows])
    empty = np.array([int(r["voxels_whole tumour"]) == 0 for r in rows])
    assert (scores[empty] == 1).all()  # an empty slice scores 1 and is never flagged
    assert not any(r["flagged"] == "True" for r, e in zip(rows, empty) if e)


def test_the_review_list_puts_flagged_slices_first_lowest_score_first(gs_dataset, model):
    """What the Slicer panel lists ("review these"): the method's own flags before its merely unsure slices."""
    from weakseg.inference import InferenceConfig
    from weakseg.io.case import load_case
    from weakseg.methods import predict_case
    from weakseg.worker.results import low_confidence_slices, review_slices

    table = predict_case(load_case(gs_dataset / "Phantom_0001", log_warnings=False), model,
                         InferenceConfig(device="cpu")).slice_table
    table[3].update(flagged=True, difference_score=0.15)  # two slices flagged as a stricter threshold would
    table[7].update(flagged=True, difference_score=0.05)
    flagged = sorted((r for r in table if r["flagged"]), key=lambda r: r["difference_score"])
    items = review_slices(table, 0.25, 0.75)
    assert [i["slice"] for i in items[:len(flagged)]] == [r["slice"] for r in flagged]
    assert all(i["flagged"] for i in items[:len(flagged)]) and not any(i.get("flagged") for i in items[len(flagged):])
    unsure = [i["slice"] for i in low_confidence_slices(table, 0.25, 0.75) if i["slice"] not in {r["slice"] for r in flagged}]
    assert [i["slice"] for i in items[len(flagged):]] == unsure


def test_filter_flags_a_deliberately_corrupted_slice(gs_dataset, model):
    """A mask moved off the tumour onto healthy tissue has a small |x − x̂| inside it: d < 0.2, flagged."""
    from weakseg.io.case import load_case
    from weakseg.methods.gan_seeds.bank import canvas_slices
    from weakseg.methods.gan_seeds.infer import difference_scores, flags, segment_slices
    from weakseg.preprocess import PreprocessConfig, crop, prepare_channels

    case = load_case(gs_dataset / "Phantom_0002", log_warnings=False)
    stack, box = prepare_channels(case, ["flair"], PreprocessConfig("none"))
    images, share, canvas = canvas_slices(stack, TINY_SIZE)
    out = segment_slices(model.network, images, share >= 0.1, 0.2)
    gt = crop(sitk.GetArrayFromImage(case.labels) > 0, box)[None].astype(np.float32)
    gt = canvas.to_canvas(gt)[:, 0] > 0.5
    k = int(gt.reshape(len(gt), -1).sum(1).argmax())
    good = gt[k]
    brain = images[k, 0] > 0
    ys, xs = np.nonzero(good)
    corrupted = np.zeros_like(good)
    for dy, dx in [(0, s) for s in range(-20, 21, 2)] + [(s, 0) for s in range(-20, 21, 2)]:
        moved = np.zeros_like(good)
        y2, x2 = ys + dy, xs + dx
        if (y2 < 0).any() or (x2 < 0).any() or (y2 >= good.shape[0]).any() or (x2 >= good.shape[1]).any():
            continue
        moved[y2, x2] = True
        if not (moved & good).any() and brain[moved].mean() > 0.9:
            corrupted = moved
            break
    assert corrupted.any(), "no healthy place to move the mask to"
    d = difference_scores(images[[k, k], 0], out["healthy"][[k, k]], np.stack([good, corrupted]))
    assert flags(d, 0.2).tolist() == [False, True], d
    assert flags(np.array([1.0]), 0.5).tolist() == [False]


def test_residual_mask_keeps_only_the_l_m_target_and_scores_the_unrestricted_mask(gs_dataset, model):
    """Default inference (second pass): mask ⊆ {|x − x̂| > ζ/ε} ∩ blend; the difference score is the blend's."""
    from weakseg.io.case import load_case
    from weakseg.methods.gan_seeds.bank import canvas_slices
    from weakseg.methods.gan_seeds.case_prediction import predict
    from weakseg.methods.gan_seeds.infer import segment_slices
    from weakseg.preprocess import PreprocessConfig, prepare_channels

    assert model.card.inference["residual_mask"] is True and model.card.inference["residual"] == 0.25
    case = load_case(gs_dataset / "Phantom_0002", log_warnings=False)
    stack, _ = prepare_channels(case, ["flair"], PreprocessConfig("none"))
    images, share, _ = canvas_slices(stack, TINY_SIZE)
    plain = segment_slices(model.network, images, share >= 0.1, 0.2, "combined")
    kept = segment_slices(model.network, images, share >= 0.1, 0.2, "combined_residual", residual=0.25)
    residual = np.abs(images[:, 0] - kept["healthy"])
    assert plain["mask"].any() and kept["mask"].any()
    assert (kept["mask"] <= (plain["mask"] & (residual > 0.25))).all()
    assert kept["mask"].sum() < plain["mask"].sum()  # the phantom's converter is not perfect outside the tumour
    assert np.array_equal(kept["d"], plain["d"])
    default = predict(case, model)
    assert default.provenance["stage_model"] == "combined_residual"
    paper = predict(case, model, stage_model="combined")
    assert sitk.GetArrayFromImage(default.labels).sum() < sitk.GetArrayFromImage(paper.labels).sum()


def test_converter_trains_on_tumour_slices_with_mostly_negative_seed():
    """u_subset 'gt' (default): X_C slices whose negative seed covers > 50 %; 'lt' the literal < 50 %."""
    from weakseg.methods.gan_seeds.config import GanSeedsConfig
    from weakseg.methods.gan_seeds.gan import u_training_rows

    assert GanSeedsConfig().u_subset == "gt"
    share = np.array([0.0, 0.3, 0.6, 0.7, 0.9, 0.4, 0.8, 0.65, 0.55, 0.75, 0.85, 0.95, 0.2, 0.58, 0.62])
    negative = np.zeros((len(share), 10, 10), bool)
    for i, f in enumerate(share):
        negative[i].flat[:int(round(f * 100))] = True
    y = np.ones(len(share), np.int8)
    y[4] = 0  # tumour-free: never in X_C
    p = np.full(len(share), 0.9)
    p[6] = 0.2  # missed by the classifier: not in X_C
    rows, info = u_training_rows(y, p, negative, "gt")
    assert rows.tolist() == [2, 3, 7, 8, 9, 10, 11, 13, 14] and info["subset"] == 9 and "fallback" not in info
    rows, info = u_training_rows(y, p, negative, "lt")  # 3 slices < 8: falls back to all of X_C
    assert info["subset"] == 3 and info["fallback"] == "all of X_C"
    assert rows.tolist() == [1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14]


TINY_SIZE = 32


def test_remove_flagged_slices_works_in_any_orientation():
    from weakseg.methods.gan_seeds.review import remove_flagged_slices, review_note
    from weakseg.preprocess import to_canonical

    labels = sitk.GetImageFromArray(np.ones((5, 4, 3), np.uint8))
    labels.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))  # RAS: canonical LPS flips x and y, keeps z
    labels.SetOrigin((3.0, -2.0, 7.0))
    rows = [{"slice": z, "flagged": z == 2} for z in range(5)]
    out = remove_flagged_slices(labels, rows)
    assert out.GetDirection() == labels.GetDirection() and out.GetOrigin() == labels.GetOrigin()
    canonical = sitk.GetArrayFromImage(to_canonical(out))
    assert canonical[2].sum() == 0 and canonical[[0, 1, 3, 4]].all()
    note = review_note([{"slice": 2, "flagged": "True"}, {"slice": 3, "flagged": "False"}])
    assert note["needs_review"] and note["flagged_slices"] == [2] and "2" in note["text"]
    assert not review_note(rows[:2])["needs_review"]
    with pytest.raises(WeakSegError):
        remove_flagged_slices(labels, [{"slice": 9, "flagged": True}])


def test_resume_skips_finished_stages_and_a_new_run_refuses_the_folder(gs_dataset, gs_run, cli, gs_config, tmp_path):
    before = (gs_run / "stages.json").read_text()
    config = gs_config(tmp_path / "c.json", gs_dataset, gs_run)
    done = cli("train", "--config", str(config), "--resume", "--no-estimate", "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (gs_run / "stages.json").read_text() == before
    refused = cli("train", "--config", str(config), "--no-estimate", "--no-progress")
    assert refused.returncode == 2 and "gan-seeds" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_an_interrupted_stage_resumes_from_its_checkpoint(gs_dataset, gs_run, cli, gs_config, tmp_path):
    """Remove the last stage's model and cached final model: the re-run retrains only that stage."""
    run = tmp_path / "run"
    shutil.copytree(gs_run, run)
    shutil.rmtree(run / "model")
    shutil.rmtree(run / "stages" / "s_os" / "model")
    stages = json.loads((run / "stages.json").read_text())
    config = gs_config(tmp_path / "c.json", gs_dataset, run)
    done = cli("train", "--config", str(config), "--resume", "--no-estimate", "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    after = json.loads((run / "stages.json").read_text())
    assert {k: v for k, v in after.items() if k != "s_os"} == {k: v for k, v in stages.items() if k != "s_os"}
    assert after["s_os"]["resumed"] is True
    assert (run / "model" / "card.json").is_file()


def test_slice_labels_from_the_store_equal_the_derived_ones(gs_dataset, tmp_path, tiny_options):
    """What WeakSegTrain writes (a weak-label store) and the paper's erosion rule give the same training slices."""
    from dataclasses import replace

    from weakseg.io.case import load_case
    from weakseg.labels.derive import GAN_SEEDS, derive_case
    from weakseg.methods.gan_seeds.bank import build_bank
    from weakseg.methods.gan_seeds.classifier import ClassifierStage
    from weakseg.methods.gan_seeds.config import GanSeedsConfig
    from weakseg.training import TrainConfig
    from weakseg.training.engine import Trainer

    data = tmp_path / "data"
    for name in ("Phantom_0000", "Phantom_0001"):
        shutil.copytree(gs_dataset / name, data / name)
        store = derive_case(load_case(data / name, log_warnings=False), ["slices"], sidecar=data / name / "weaklabels",
                            config=GAN_SEEDS)
        store.save()
        next((data / name).glob("*seg*")).unlink()  # the store is all there is
    options = GanSeedsConfig.from_dict(tiny_options)
    base = TrainConfig(method="gan-seeds", dataset=str(data), out=str(tmp_path / "o"), full_cases=[])
    banks = []
    for dataset, derive in ((data, False), (gs_dataset, True)):
        cfg = replace(base, dataset=str(dataset), derive_weak=derive, derive_weak_erosion=1,
                      train_cases=["Phantom_0000", "Phantom_0001"])
        cases, _ = Trainer(cfg, ClassifierStage(options)).load_data()
        assert all(c.classes is None and c.classes_full is None for c in cases)  # no voxel label reaches training
        banks.append(build_bank(cases, options.size, options.min_brain, None))
    assert np.array_equal(banks[0].y, banks[1].y) and np.array_equal(banks[0].keys, banks[1].keys)
    assert 0 < banks[0].y.sum() < len(banks[0].y)


def test_bad_options_are_one_line_errors(gs_dataset, cli, gs_config, tmp_path):
    config = gs_config(tmp_path / "c.json", gs_dataset, tmp_path / "run", sequences=["t1"])
    done = cli("train", "--config", str(config), "--no-estimate")
    assert done.returncode == 2 and "FLAIR" in done.stderr and not (tmp_path / "run" / "stages").exists()
    config = gs_config(tmp_path / "c.json", gs_dataset, tmp_path / "run", ritual=1)
    done = cli("train", "--config", str(config), "--no-estimate")
    assert done.returncode == 2 and "ritual" in done.stderr


def test_a_stage_model_is_refused_for_segmentation(gs_dataset, gs_run, tmp_path):
    """An exported stage (here S_OS) loads, but segmenting with it is a one-line error, not a crash."""
    from weakseg.io.case import load_case
    from weakseg.methods import predict_case
    from weakseg.models import load_model
    from weakseg.training.engine import export_checkpoint

    stage = load_model(export_checkpoint(gs_run / "stages" / "s_os", tmp_path / "s_os"))
    with pytest.raises(WeakSegError, match="one stage"):
        predict_case(load_case(gs_dataset / "Phantom_0000", log_warnings=False), stage)
