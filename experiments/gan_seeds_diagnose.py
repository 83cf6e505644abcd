"""Diagnose gan-seeds over-segmentation from a run's cached stages with slice labels only (no voxel truth).

Measures, on the unit's TRAINING slices: the converter residual |x - U(x)| on tumour-free slices
(U applied as if they had tumour: pure converter error) against tumour slices, how much of each the
L_M optimum {residual > zeta/epsilon} marks, and S0's predicted area on tumour-free vs tumour slices.

    python experiments/gan_seeds_diagnose.py fold0          # writes <unit>/diagnose.json
    python experiments/gan_seeds_diagnose.py pass1/fold0    # the first pass's converter
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from experiments.gan_seeds_cv import BUDGET, CACHE, DATA, STATE  # noqa: E402


def load_unit(unit: str):
    """(options, bank, classifier, converter, s0, seeds, healthy) of a run folder, from its caches."""
    import torch
    from safetensors.torch import load_file

    from weakseg.methods.gan_seeds import classifier as cstage, gan, segment
    from weakseg.methods.gan_seeds.bank import build_bank
    from weakseg.methods.gan_seeds.common import data_config
    from weakseg.methods.gan_seeds.config import GanSeedsConfig
    from weakseg.nn.gan_unet import GanUNet
    from weakseg.nn.slice_classifier import SliceClassifier
    from weakseg.training.data import load_training_case, weak_from_full

    torch.set_num_threads(1)
    run = STATE / unit
    options = GanSeedsConfig.from_dict({**BUDGET, "preset": None})
    trained = json.loads((run / "config.json").read_text())["train"]["train_cases"]
    cases = [weak_from_full(load_training_case(DATA / n, data_config(options), keep_full=True, cache_dir=CACHE), 1)
             for n in trained]
    bank = build_bank(cases, options.size, options.min_brain, options.z_range)
    stages = run / "stages"
    c = SliceClassifier(cstage.classifier_config(options))
    c.load_state_dict(load_file(str(stages / "classifier/model/model.safetensors")))
    b = load_file(str(stages / "gan_b/model/model.safetensors"))
    u = GanUNet(gan.pair_config(options, "unet").unet_config())
    u.load_state_dict({k[2:]: v for k, v in b.items() if k.startswith("g.")})
    s0 = None
    if (stages / "s0/model/model.safetensors").is_file():
        s0 = GanUNet(segment.unet_config(options))
        s0.load_state_dict(load_file(str(stages / "s0/model/model.safetensors")))
    arrays = {}
    for name in ("seeds", "healthy", "refine"):
        if not (run / "artifacts" / f"{name}.npz").is_file():
            continue
        with np.load(run / "artifacts" / f"{name}.npz") as data:
            arrays[name] = {k: data[k] for k in data.files}
    return options, bank, c, u, s0, arrays


def converter_all(u, x, batch=128):
    import torch

    u.eval()
    out = np.empty(x.shape[:1] + x.shape[2:], np.float32)
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out[i:i + batch] = u(torch.from_numpy(np.ascontiguousarray(x[i:i + batch, :1])))[0][:, 0].numpy()
    return out


def deletion_check(model_dir: Path, x: np.ndarray, radius: int = 2) -> dict:
    """Per output rule: mask area, and how often C says 'no tumour' once the mask (dilated) is deleted from the slice."""
    import torch
    from scipy import ndimage
    from skimage.morphology import disk

    from weakseg.methods.gan_seeds.infer import segment_slices
    from weakseg.models import load_model

    net = load_model(model_dir).network
    out = {"slices": int(len(x)), "radius": radius}
    for rule in ("combined", "combined_residual", "s0"):
        m = segment_slices(net, x, np.ones(len(x), bool), 0.2, rule)["mask"]
        gone = np.stack([ndimage.binary_dilation(k, disk(radius)) for k in m])[:, None]
        with torch.no_grad():
            p = net.classifier.probability(torch.from_numpy((x * (1 - gone)).astype(np.float32))).numpy()
        out[rule] = {"px_per_slice": float(m.reshape(len(m), -1).sum(1).mean()), "c_says_no_tumour": float((p < 0.5).mean())}
    return out


def main(unit: str) -> None:
    from weakseg.methods.gan_seeds import segment

    options, bank, c, u, s0, arrays = load_unit(unit)
    x = bank.x[:, 0]
    y = bank.y.astype(bool)
    brain = x > 0
    xh = converter_all(u, bank.x)
    signed = x - xh
    res = np.abs(signed)
    out = {"slices": int(len(y)), "tumour": int(y.sum())}
    for name, rows in (("tumour_free", ~y), ("tumour", y)):
        r, s, b = res[rows], signed[rows], brain[rows]
        inside = r[b]
        out[name] = {"residual_mean": float(inside.mean()),
                     "residual_q": {q: float(np.percentile(inside, q)) for q in (50, 90, 95, 99, 99.9)},
                     "share_gt_0.25": float((inside > 0.25).mean()),
                     "share_pos_gt_0.25": float((s[b] > 0.25).mean()),
                     "share_neg_gt_0.25": float((s[b] < -0.25).mean()),
                     "px_per_slice_gt_0.25": float((r > 0.25).sum() / max(1, rows.sum())),
                     "px_per_slice_pos_gt_0.25": float((s > 0.25).sum() / max(1, rows.sum()))}
    pos = arrays["seeds"]["positive"]
    neg = arrays["seeds"]["negative"]
    out["seeds"] = {"pos_px_per_tumour_slice": float(pos[y].sum() / y.sum()),
                    "neg_share_tumour_slices": float(neg[y].mean()), "neg_share_free_slices": float(neg[~y].mean()),
                    "pos_on_free_slices": int(pos[~y].sum())}
    pos_y = pos & y[:, None, None]
    out["target_vs_seeds"] = {"pos_seed_with_res_gt_0.25": float((res[pos_y] > 0.25).mean()),
                              "pos_seed_with_signed_gt_0.25": float((signed[pos_y] > 0.25).mean()),
                              "neg_seed_with_res_gt_0.25_tumour_slices": float((res[neg & y[:, None, None]] > 0.25).mean())}
    p = arrays["seeds"]["p"]
    m = segment.segment(s0, bank.x) > 0.5 if s0 is not None else np.zeros_like(pos)
    out["s0"] = {} if s0 is None else {"px_per_tumour_slice": float(m[y].sum() / y.sum()),
                 "px_per_free_slice": float(m[~y].sum() / (~y).sum()),
                 "free_slices_nonempty": float(m[~y].reshape((~y).sum(), -1).any(1).mean()),
                 "tumour_slices_nonempty": float(m[y].reshape(y.sum(), -1).any(1).mean()),
                 "mask_px_with_res_gt_0.25_tumour_slices": float((res[m & y[:, None, None]] > 0.25).mean()),
                 "mask_px_with_pos_gt_0.25": float((signed[m & y[:, None, None]] > 0.25).mean()),
                 "mask_vs_pos_seed_cover": float((m & pos_y).sum() / max(1, pos_y.sum())),
                 "gated_free_px": float((m[~y] & (p[~y] > 0.5)[:, None, None]).sum() / (~y).sum())}
    band = y[:, None, None] & (x > 0.05) & ~neg  # unseeded brain of tumour slices: only L_adv constrains U there
    under = y[:, None, None] & (x > 0.05) & neg
    out["unseeded_band"] = {"brain_px_per_tumour_slice": float(band.sum() / y.sum()),
                            "share_xhat_below_0.1": float((xh[band] < 0.1).mean()),
                            "share_xhat_below_0.1_under_negative_seed": float((xh[under] < 0.1).mean()),
                            "share_residual_gt_0.25": float((res[band] > 0.25).mean())}
    model = STATE / unit / "model"
    if (model / "card.json").is_file():
        out["deletion"] = deletion_check(model, bank.x[np.flatnonzero(y & (p > 0.5))[::3]])
    print(json.dumps(out, indent=1))
    from experiments.gan_seeds_cv import write_json

    write_json(STATE / unit / "diagnose.json", out)  # gan_seeds_cv.py report puts it beside the unit's scores
    # the slices behind the numbers, for figures; beside the unit (its state folder), never in the repository
    np.savez_compressed(STATE / unit / "diagnose-slices.npz", x=x, xh=xh, y=y, pos=pos, neg=neg, m=m, p=p,
                        case=bank.case, z=bank.z)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fold0")
