"""Per-class probability thresholds for an OAR model, chosen on its own training sources; written into its card.

    OMP_NUM_THREADS=2 python experiments/oar_calibrate.py --model /tmp/oar-run/default/model \
        --out weakseg/models/default-oar

The class-balanced partial loss weighs each class's positives and negatives equally, so at 0.5
small organs are over-segmented. Thresholds (0.5 ... 0.998) are picked per class to maximise the
Dice of the three-orientation vote on volumes the model was trained from: the phantom head of
seed 1 (its acquired T1) and two label maps painted with T1 priors (SynthSeg map 01, skull on;
the SPL atlas map). The evaluation cases of docs/results/oar.md are never seen here.

``--phantoms 201 202 203`` calibrates on those held-out development heads instead (their acquired T1s,
every class labelled): a network is over-confident on the volumes it was trained from, so thresholds
picked there come out extreme (0.95-0.998 for 0.2.0).

``--tolerance D`` takes, per class, the lowest threshold whose Dice is within D of the best instead of the
best itself. On the calibration volumes the network is over-confident, so Dice is flat from about 0.9 to
0.998 and the argmax lands near 1; on a real scan the organ's probabilities are lower and such a threshold
removes true organ (docs/results/oar.md). The whole Dice-by-threshold table goes into the card.

``--from-card`` skips the network: the Dice table comes from ``--model``'s card, written by an earlier
calibration on the same volumes, so another ``--tolerance`` or a floor costs nothing.

``--volume-floor`` also writes a per-class volume floor (half the smallest volume of that class among the
training sources: the 20 SynthSeg maps, the SPL map, phantom heads 1-8) into the card; on a scan where a class
votes smaller, lower thresholds are tried (``weakseg.methods.oar.volume_floor``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from weakseg.oar.classes import CLASSES
from weakseg.oar.intensity import normalise_head
from weakseg.methods.oar.volume_floor import STEPS

GRID = tuple(sorted(STEPS))
"""The thresholds tried, lenient to strict: the same grid the per-scan volume floor steps down."""


def painted(volume, rng) -> np.ndarray:
    lut = np.nan_to_num(volume.prior, nan=0.5).astype(np.float32)
    image = ndi.gaussian_filter(lut[volume.gen], 0.5)
    return np.abs(image + 0.02 * rng.standard_normal(image.shape)).astype(np.float32)


def acquired_phantom(seed: int):
    """(name, acquired T1 cropped like its label volume, label volume, class bits) of one phantom head."""
    from weakseg.phantom.config import PhantomConfig
    from weakseg.phantom.head_oar import head_maps, make_head_case
    from weakseg.phantom.label_sources import BIT, _head_box, phantom_volume

    volume = phantom_volume(seed)
    head = make_head_case(PhantomConfig(seed=seed, physiology=False))
    tissue = sitk.GetArrayFromImage(head.images["t1"]).astype(np.float32)
    box = _head_box(head_maps(PhantomConfig(seed=seed, physiology=False))[0] > 0)
    return f"phantom_{seed:04d} (acquired T1)", tissue[box], volume, BIT


def calibration_volumes(shared: Path, phantoms: list[int] | None = None):
    from weakseg.phantom.label_sources import BIT, spl_volume, synthseg_volume

    if phantoms:
        for seed in phantoms:
            yield acquired_phantom(seed)
        return
    yield acquired_phantom(1)
    yield "synthseg_01 (painted, T1 priors)", None, synthseg_volume(
        shared / "synthseg_label_maps" / "training_seg_01.nii.gz"), BIT
    yield "spl_atlas (painted, T1 priors)", None, spl_volume(shared / "spl_atlas_labels" / "hncma-atlas.nrrd"), BIT


def training_volumes(shared: Path, phantoms: int = 8) -> dict[str, list[float]]:
    """Per class, its volume (ml, both sides together) in every training source that labels it."""
    from weakseg.phantom.label_sources import BIT, shared_sources

    out: dict[str, list[float]] = {c: [] for c in CLASSES}
    for volume in shared_sources(shared, phantoms=phantoms):
        for c in volume.known:
            out[c].append(float(((volume.bits & BIT[c]) > 0).sum()) / 1000.0)  # 1 mm voxels
    return out


def volume_floor(volumes: dict[str, list[float]], fraction: float = 0.5) -> dict:
    """The card's ``volume_floor``: ``fraction`` of each organ's smallest training volume (not the brain)."""
    return {"min_ml": {c: round(fraction * min(v), 3) for c, v in volumes.items() if v and c != "brain"},
            "lowest": 0.5, "from": f"{fraction:g} x the smallest volume among the training sources"}


def choose(dice_by_threshold: np.ndarray, tolerance: float = 0.0) -> float:
    """The lowest grid threshold whose Dice is within ``tolerance`` of the row's best (0: the first best)."""
    return GRID[int(np.flatnonzero(dice_by_threshold >= dice_by_threshold.max() - tolerance)[0])]


def main() -> None:
    from weakseg.models.registry import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--version", default="0.1.0")
    parser.add_argument("--phantoms", type=int, nargs="+",
                        help="calibrate on these held-out phantom heads instead of the training sources")
    parser.add_argument("--tolerance", type=float, default=0.0,
                        help="lowest threshold within this much Dice of the best (0: the best)")
    parser.add_argument("--volume-floor", action="store_true",
                        help="write per-class volume floors from the training sources (weakseg.methods.oar.volume_floor)")
    parser.add_argument("--from-card", action="store_true",
                        help="re-choose from the Dice table in --model's card (an earlier calibration); no network pass")
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "oar"))
    args = parser.parse_args()
    model = load_model(args.model)
    if args.from_card:
        table = (model.card.inference or {}).get("calibration_dice_by_threshold")
        if not table:
            raise SystemExit(f"error: {args.model}: its card has no calibration_dice_by_threshold (calibrate it first)")
        dice = np.array([[table[cls][str(t)] for t in GRID] for cls in CLASSES])
        source = model.card.inference["thresholds_from"].split(" on ", 1)[-1]
    else:
        dice, source = calibrate(model, Path(args.shared), args.phantoms)
    write_card(model, dice, source, args)


def calibrate(model, shared: Path, phantoms: list[int] | None) -> tuple[np.ndarray, str]:
    """(vote Dice per class and grid threshold, where it was measured) on the calibration volumes."""
    from weakseg.inference.engine import InferenceConfig
    from weakseg.methods.oar.case_prediction import class_probabilities
    from weakseg.oar.rules import majority_vote

    rng = np.random.default_rng(0)
    tp = np.zeros((len(CLASSES), len(GRID)))
    total = np.zeros((len(CLASSES), len(GRID)))
    used = []
    for name, image, volume, bit in calibration_volumes(shared, phantoms):
        image = normalise_head(image if image is not None else painted(volume, rng))
        probs = class_probabilities(model.network, image, model.card.inference["orientations"], InferenceConfig(device="cpu"))
        for c, cls in enumerate(CLASSES):
            if cls not in volume.known:
                continue
            truth = (volume.bits & bit[cls]) > 0
            for t, threshold in enumerate(GRID):
                pred = majority_vote([p[c] > threshold for p in probs.values()])
                tp[c, t] += (pred & truth).sum()
                total[c, t] += pred.sum() + truth.sum()
        used.append(name)
        print(name, flush=True)
    dice = 2 * tp / np.maximum(total, 1)
    return dice, f"{'held-out phantoms' if phantoms else 'training sources'}: {', '.join(used)}"


def write_card(model, dice: np.ndarray, source: str, args) -> None:
    """The model copy in ``args.out`` with thresholds chosen from ``dice`` (and a volume floor if asked)."""
    from weakseg.models.registry import save_model

    best = [choose(row, args.tolerance) for row in dice]
    card = model.card
    card.version = args.version
    rule = f"lowest threshold within {args.tolerance:g} of the best" if args.tolerance else "best"
    card.inference = {**card.inference, "thresholds": best,
                      "thresholds_from": f"{rule} vote Dice over {list(GRID)} on {source}",
                      "calibration_dice": {cls: round(float(dice[c].max()), 3) for c, cls in enumerate(CLASSES)},
                      "calibration_dice_by_threshold": {cls: dict(zip(map(str, GRID), np.round(dice[c], 6).tolist()))
                                                        for c, cls in enumerate(CLASSES)}}
    card.inference.pop("volume_floor", None)
    if args.volume_floor:
        card.inference["volume_floor"] = volume_floor(training_volumes(Path(args.shared)))
    save_model(model.network, card, Path(args.out))
    print(json.dumps({"thresholds": dict(zip(CLASSES, best)), "dice": card.inference["calibration_dice"]}, indent=1))


if __name__ == "__main__":
    main()
