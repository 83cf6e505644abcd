"""Why a weak-label arm does or does not beat full-n: issue 14 item 4's diagnostics on trained units.

Per finished unit (a model of the weak-label payoff study), written to ``<unit>/diagnostics.json``:

- ``branch_auc``: ROC AUC of each image-level branch (necrosis, edema, enhancing) on the held-out
  fold's axial slices, against their slice labels (derived after the same one in-plane erosion the
  training used). A branch that cannot tell tumour slices from others carries no usable signal
  from the slice-labelled cases into the shared layers.
- ``gradient_share``: on batches drawn exactly as training draws them (the unit's own train
  config and label mix, the trained network in train mode), the norm of the weighted weak term's
  gradient (1 − a)·∇Loss_c in the shared layers (the U-Net's encoder and decoder, not the heads) over
  the sum of both terms' norms, and the cosine between the two gradients: a share near 0 means the
  slice labels barely move the segmentation features; a negative cosine means they pull against it.

    python experiments/weak_label_payoff.py diagnose --configs mixed-5 full-5 [--folds 0 1] [--batches 20]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

CLASS_NAMES = ("necrosis", "edema", "enhancing")


def _network_and_config(unit):
    from weakseg.methods.mixed import MixedConfig
    from weakseg.models import load_model

    model = load_model(unit.model_dir)
    return model.network, MixedConfig.from_dict(model.card.training["method_config"])


def branch_auc(unit, test: list[str], data: Path, cache: Path, erosion: int) -> dict:
    """AUC per branch on the held-out slices (slices whose label is unknown are left out)."""
    import torch
    import torch.nn.functional as F

    from weakseg.inference.engine import _pad_for_network
    from weakseg.metrics.slices import slice_auc
    from weakseg.training.data import UNKNOWN, load_training_case, weak_from_full

    network, config = _network_and_config(unit)
    if not config.branch_classes:
        return {}
    network.eval()
    scores: list[list[np.ndarray]] = [[] for _ in config.branch_classes]
    truths: list[list[np.ndarray]] = [[] for _ in config.branch_classes]
    for case_id in test:
        case = load_training_case(data / case_id, config.data_config(), keep_full=True, cache_dir=cache)
        labels = weak_from_full(case, erosion).slice_labels  # (z, 3) per tumour class
        usable = np.flatnonzero(case.usable)
        pad, _ = _pad_for_network(network, *case.stack.shape[-2:])
        with torch.no_grad():
            for z0 in range(0, len(usable), 16):
                zs = usable[z0:z0 + 16]
                x = F.pad(torch.from_numpy(np.ascontiguousarray(case.stack[:, zs].transpose(1, 0, 2, 3))).float(), pad)
                _, branches = network(x)
                for b, logits in enumerate(branches):
                    scores[b].append(torch.softmax(logits.float(), 1)[:, 1].numpy())
                    truths[b].append(labels[zs, b])
    out = {}
    for b, name in enumerate(CLASS_NAMES[:len(scores)]):
        s, t = np.concatenate(scores[b]), np.concatenate(truths[b])
        known = t != UNKNOWN
        out[name] = {"auc": round(slice_auc(s[known], t[known] == 1), 4), "slices": int(known.sum()),
                     "present": int((t[known] == 1).sum())}
    return out


def gradient_share(unit, batches: int, seed: int = 0) -> dict:
    """Weak term's share of the shared layers' gradient and its cosine with the segmentation term's."""
    import torch

    from weakseg.methods.mixed import build_method
    from weakseg.training import TrainConfig
    from weakseg.training.engine import Trainer

    config = TrainConfig.read(unit.folder / "train-config.json")
    network, method_config = _network_and_config(unit)
    if not method_config.branch_classes:
        return {}
    method = build_method(method_config.to_dict())
    train, _ = Trainer(config, method).load_data()
    method.prepare(train, network)
    a = method_config.seg_weight
    heads = {id(p) for m in (network.seg_head, network.branches) for p in m.parameters()}
    shared = [p for p in network.parameters() if p.requires_grad and id(p) not in heads]
    rng = np.random.default_rng(seed)
    network.train()
    shares, cosines, weak_rows = [], [], []
    for _ in range(batches):
        batch = method.draw_batch(rng)
        grads = {}
        for term, weight in (("seg", 1.0), ("cls", 0.0)):  # a = 1: the segmentation term alone; a = 0: the branches'
            method.config.a = weight
            network.zero_grad()
            loss, _ = method.loss(network, batch)
            loss.backward()
            grads[term] = torch.cat([p.grad.flatten() for p in shared if p.grad is not None]).clone()
        method.config.a = method_config.a
        g_s, g_c = a * grads["seg"], (1 - a) * grads["cls"]
        shares.append(float(g_c.norm() / (g_s.norm() + g_c.norm() + 1e-12)))
        cosines.append(float(torch.nn.functional.cosine_similarity(g_s, g_c, dim=0)))
        weak_rows.append(int(batch["images"].shape[0] - batch["masks"].shape[0]))
    return {"a": a, "batches": batches, "weak_share_mean": round(float(np.mean(shares)), 4),
            "weak_share_std": round(float(np.std(shares)), 4), "cosine_mean": round(float(np.mean(cosines)), 4),
            "cosine_std": round(float(np.std(cosines)), 4), "slice_labelled_rows_per_batch": float(np.mean(weak_rows)),
            "pools": method.pools.sizes()}


def diagnose_unit(unit, record: dict, data: Path, cache: Path, erosion: int, batches: int) -> dict:
    from weakseg.io.atomic import write_text_atomic

    started = time.time()
    test = record["folds"][unit.fold]
    result = {"config": unit.spec.name, "fold": unit.fold, "test": test,
              "branch_auc": branch_auc(unit, test, data, cache, erosion),
              "gradient_share": gradient_share(unit, batches) if batches else {}}
    result["seconds"] = round(time.time() - started, 1)
    write_text_atomic(unit.folder / "diagnostics.json", json.dumps(result, indent=1) + "\n")
    return result
