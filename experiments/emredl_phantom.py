"""EMReDL vs its partial-cross-entropy baseline on physiological phantoms with planted infiltration.

Shared by the CI test (tiny config, ``Testing/emredl``) and the report
(``experiments/emredl_report.py``, full size): phantoms are written as case folders with
every channel; the annotator's two masks (core = TC, FLAIR = WT, as drawn) go into each
case's weak-label store; models are trained with ``weakseg train --method emredl`` options
and applied through ``weakseg.methods.emredl.infiltration`` (the CLI's path) to held-out
phantoms whose infiltration ground truth the method never sees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from weakseg import brats

TINY_SHAPE, TINY_SPACING = (24, 64, 64), 3.75
"""CI phantoms: 240 mm in-plane field of view at 3.75 mm, 24 axial slices (paper 000 has 23)."""


def write_phantom_case(root: Path, seed: int, shape=TINY_SHAPE, spacing=TINY_SPACING) -> Path:
    """A phantom case folder with structural + physiological channels, its BraTS labels, and the annotator's masks."""
    from weakseg.labels import WeakLabelStore
    from weakseg.phantom import PhantomConfig, make_tumour_case
    from weakseg.phantom.writer import write_case

    phantom = make_tumour_case(PhantomConfig(seed=seed, shape=shape, spacing=spacing))
    folder = write_case(phantom, Path(root) / phantom.case_id, physiology=True)
    regions = brats.regions(sitk.GetArrayFromImage(phantom.labels))
    store = WeakLabelStore.open(folder, grid=phantom.labels, case_id=phantom.case_id)
    store.add_classes(["core", "flair", "necrosis"])
    store.set_full_mask("core", regions["TC"])
    store.set_full_mask("flair", regions["WT"])
    store.set_full_mask("necrosis", sitk.GetArrayFromImage(phantom.labels) == brats.NCR)
    store.provenance["full"] = ("phantom: core = TC, flair = WT, necrosis = NCR inside the core "
                                "(as an annotator draws them)")
    store.status = "complete"
    store.save()
    return folder


def truth_infiltration(folder: Path) -> np.ndarray:
    """Edema voxels with planted tumour-cell density >= 0.5 (the phantom's hidden ground truth)."""
    from weakseg.io.case import find_case_files

    seg = sitk.GetArrayFromImage(sitk.ReadImage(str(find_case_files(folder)["seg"])))
    density = sitk.GetArrayFromImage(sitk.ReadImage(str(next(folder.glob("*_infiltration.nii.gz")))))
    return (seg == brats.ED) & (density >= 0.5)


def tiny_options(lam: float) -> dict:
    """CPU-sized settings for the CI test; the paper's structure, fewer and faster steps.

    Stage A's width, the necrosis rule and the loss normalisation are the report's (chosen on development seeds).
    """
    return {"base": 8, "depth": 2, "batch_size": 8, "lr": 3e-3, "lam": lam, "prior_epochs": 300, "prior_lr": 1e-2,
            "prior_batch": 4096, "prior_patience": 60, "prior_hidden": 32, "prior_exclude_necrosis": True,
            "loss_normalisation": "labelled"}


def _auc(scores: np.ndarray, truth: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, scores)) if 0 < truth.sum() < truth.size else float("nan")


def infiltration_metrics(prob: np.ndarray, truth: np.ndarray, tau: float) -> dict:
    """Dice, AUC, MCC of the tumour map vs the planted infiltration, inside ROI2 (voxels pooled)."""
    from sklearn.metrics import matthews_corrcoef

    pred = prob >= tau
    dice = 2 * float((pred & truth).sum()) / max(float(pred.sum() + truth.sum()), 1.0)
    return {"dice": dice, "auc": _auc(prob, truth), "mcc": float(matthews_corrcoef(truth, pred))}


def _maps(model, folder: Path, with_prior: bool = False):
    """One inference on a phantom through the CLI's path: (result, BraTS regions, planted truth)."""
    from weakseg.methods.emredl import infiltration as inf
    from weakseg.methods.emredl.channels import find_channel_files

    names = [n for n, _ in model.card.preprocessing["channels"]]
    seg = next(p for p in folder.iterdir() if p.name.endswith("_seg.nii.gz"))
    regions = brats.regions(sitk.GetArrayFromImage(sitk.ReadImage(str(seg))))
    images = {n: sitk.ReadImage(str(p)) for n, p in find_channel_files(folder, names).items()}
    result = inf.run_infiltration(model, inf.Inputs(images, regions["TC"], regions["WT"]), with_prior=with_prior,
                                  device="cpu")
    return result, regions, truth_infiltration(folder)


def _dice(pred: np.ndarray, truth: np.ndarray) -> float:
    return 2 * float((pred & truth).sum()) / max(float(pred.sum() + truth.sum()), 1.0)


def evaluate_taus(model, folders: list[Path], taus: dict[str, float | None]) -> dict[str, dict]:
    """``evaluate`` at several τ from one inference per phantom (None: the model card's τ)."""
    probs, priors, truths, core_probs = [], [], [], []
    default = None
    for folder in folders:
        result, regions, truth = _maps(model, folder, with_prior=True)
        roi2 = regions["WT"] & ~regions["TC"]
        probs.append(result.probability[roi2])
        priors.append(result.prior[roi2])
        truths.append(truth[roi2])
        core_probs.append(result.probability[regions["TC"]])
        default = result.tau
    prob, prior, truth, core = (np.concatenate(v) for v in (probs, priors, truths, core_probs))
    prior_auc = _auc(prior, truth)
    out = {}
    for name, tau in taus.items():
        tau = default if tau is None else float(tau)
        core_pred = core >= tau  # Dice(R̂seg ∩ ROI1, ROI1): the CNN's own probability on the drawn core
        out[name] = {"prior_auc": prior_auc, "infiltration": infiltration_metrics(prob, truth, tau),
                     "core_dice": _dice(core_pred, np.ones_like(core_pred)), "tau": tau,
                     "roi2_voxels": int(truth.size), "infiltrated_voxels": int(truth.sum())}
    return out


def evaluate(model, folders: list[Path], tau: float | None = None) -> dict:
    """Pooled over ``folders``: prior AUC on ROI2, infiltration Dice/AUC/MCC on ROI2, core Dice on ROI1."""
    return evaluate_taus(model, folders, {"tau": tau})["tau"]


def _train_scores(model, folders: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Tumour probability and planted truth on ROI2, pooled over ``folders``."""
    probs, truths = [], []
    for folder in folders:
        result, regions, truth = _maps(model, folder)
        roi2 = regions["WT"] & ~regions["TC"]
        probs.append(result.probability[roi2])
        truths.append(truth[roi2])
    return np.concatenate(probs), np.concatenate(truths)


def tau_rules(model, folders: list[Path]) -> dict[str, float]:
    """τ chosen on ROI2 of ``folders`` (the *training* phantoms) by two rules (paper 000 §4.5, spec §6.17).

    ``youden_train`` maximises Youden's J (sensitivity + specificity − 1), the paper's rule;
    ``dice_train`` maximises Dice, the metric the acceptance asks for. The planted
    infiltration of the training phantoms plays the part of the paper's recurrence labels
    on its training patients; the held-out phantoms never set τ.
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    prob, truth = _train_scores(model, folders)
    fpr, tpr, thresholds = roc_curve(truth, prob)
    youden = float(thresholds[int(np.argmax(tpr - fpr))])
    precision, recall, cuts = precision_recall_curve(truth, prob)
    dice = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    best = float(cuts[int(np.argmax(dice))])
    return {"youden_train": float(np.clip(youden, 1e-3, 1 - 1e-3)), "dice_train": float(np.clip(best, 1e-3, 1 - 1e-3)),
            "fixed_0.5": 0.5}


def youden_tau(model, folders: list[Path]) -> float:
    """τ maximising Youden's J on the training phantoms (see ``tau_rules``)."""
    return tau_rules(model, folders)["youden_train"]
