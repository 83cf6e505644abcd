"""The cross-validation peer: MONAI's BraTS SegResNet trained on the same folds with the same CPU budget.

What a Slicer user gets from SlicerMONAIAuto3DSeg is a SegResNet (MONAI's ``brats_mri_segmentation``
bundle architecture: ``SegResNet(blocks_down=[1,2,2,4], blocks_up=[1,1,1], init_filters=16)``,
three sigmoid outputs for the nested regions). Here it is trained the bundle's way, scaled to a CPU:

- inputs: the four sequences z-scored inside the brain (the same cached arrays as our own methods,
  1 mm, cropped to the brain box);
- random 96³ crops, half centred on tumour and half anywhere in the brain (MONAI's
  ``RandCropByPosNegLabel``), random flips on every axis, intensity scale and shift (the bundle's
  augmentation);
- soft Dice on the WT, TC, ET sigmoids (the bundle's ``DiceLoss(sigmoid=True, squared_pred=True)``);
- AdamW 1e-3 with a cosine schedule over the *time* budget: the unit trains for as many CPU seconds
  (one thread; ``time.process_time``) as the configuration named by ``budget_of`` took wall-clock
  seconds on the same fold. That configuration ran with about a core to itself (0.25-0.3 s per
  iteration, as alone), so its wall time is close to its CPU time; counting the peer's CPU time keeps
  its budget whole when the shared machine is busier, or when a benchmark pauses it.

The bundle's learning rate (1e-4 over 300 GPU epochs) is too slow for a few hundred iterations; 1e-3
was fixed before any peer unit ran, not tuned on the folds. Checkpoints every 25 iterations (atomic)
make the unit resumable; the CPU time used is carried across resumes so the budget is honest.
MONAI is a benchmark/experiment dependency only.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PATCH = 96
CHECKPOINT_EVERY = 25


@dataclass(frozen=True)
class PeerOptions:
    budget_seconds: float
    patch: int = PATCH
    lr: float = 1e-3
    weight_decay: float = 1e-5
    init_filters: int = 16

    @classmethod
    def from_dict(cls, data: dict) -> "PeerOptions":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def network(init_filters: int = 16):
    from monai.networks.nets import SegResNet

    return SegResNet(blocks_down=[1, 2, 2, 4], blocks_up=[1, 1, 1], init_filters=init_filters, in_channels=4,
                     out_channels=3)


def data_config():
    from weakseg.training.data import DataConfig

    return DataConfig(sequences=("flair", "t1", "t1c", "t2"), normalisation="zscore", inplane_downsample=1)


def region_targets(classes: np.ndarray) -> np.ndarray:
    """(3, ...) float32 WT, TC, ET masks from class indices (1 core, 2 edema, 3 enhancing)."""
    return np.stack([classes > 0, (classes == 1) | (classes == 3), classes == 3]).astype(np.float32)


def load_cases(dataset: Path, case_ids: list[str], cache: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(stack (4,z,y,x) float16 memory-mapped, classes (z,y,x) uint8) per training case, from the case cache."""
    from weakseg.training.data import load_training_case

    out = []
    for case_id in case_ids:
        case = load_training_case(dataset / case_id, data_config(), keep_full=True, cache_dir=cache)
        out.append((case.stack, case.classes_full))
    return out


def _pad_to(array: np.ndarray, size: int) -> np.ndarray:
    pads = [(0, 0)] * (array.ndim - 3) + [(0, max(0, size - s)) for s in array.shape[-3:]]
    return np.pad(array, pads) if any(p[1] for p in pads) else array


class Sampler:
    """Random training crops with the bundle's augmentation (MONAI array transforms)."""

    def __init__(self, cases, patch: int, seed: int):
        from monai.transforms import Compose, RandFlip, RandScaleIntensity, RandShiftIntensity

        self.cases, self.patch = cases, patch
        self.rng = np.random.default_rng(seed)
        self.flips = [RandFlip(prob=0.5, spatial_axis=a) for a in range(3)]
        self.intensity = Compose([RandScaleIntensity(factors=0.1, prob=1.0), RandShiftIntensity(offsets=0.1, prob=1.0)])
        for t in self.flips + [self.intensity]:
            t.set_random_state(seed=int(self.rng.integers(2**31)))
        self.tumour = [np.argwhere(c > 0) for _, c in cases]
        self.brain = [np.argwhere(np.asarray(s[0]) != 0)[::97] for s, _ in cases]

    def crop(self):
        i = int(self.rng.integers(len(self.cases)))
        stack, classes = self.cases[i]
        points = self.tumour[i] if (self.rng.random() < 0.5 and len(self.tumour[i])) else self.brain[i]
        centre = points[self.rng.integers(len(points))]
        starts = [int(np.clip(c - self.patch // 2, 0, max(0, n - self.patch))) for c, n in zip(centre, classes.shape)]
        box = tuple(slice(s, s + self.patch) for s in starts)
        x = _pad_to(np.asarray(stack[(slice(None),) + box], np.float32), self.patch)
        y = _pad_to(region_targets(classes[box]), self.patch)
        both = np.concatenate([x, y])
        for flip in self.flips:
            both = np.asarray(flip(both))
        x = np.asarray(self.intensity(both[:4]))
        return x, both[4:]


def _save_atomic(obj, path: Path) -> None:
    import os

    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train_unit(config: dict) -> None:
    """Train one peer unit from a tumour_cv unit config (resuming), then write model/ with a card."""
    import torch
    from monai.losses import DiceLoss

    torch.set_num_threads(1)
    options = PeerOptions.from_dict(config["method_options"])
    out = Path(config["out"])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config["seed"])
    net = network(options.init_filters)
    optimiser = torch.optim.AdamW(net.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    state = {"iteration": 0, "elapsed": 0.0, "losses": []}
    checkpoint = out / "checkpoint.pt"
    if checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=True)
        net.load_state_dict(saved["net"])
        optimiser.load_state_dict(saved["optimiser"])
        state = {"iteration": saved["iteration"], "elapsed": saved["elapsed"], "losses": list(saved["losses"])}
        print(f"resumed at iteration {state['iteration']} ({state['elapsed']:.0f} s used)", flush=True)
    cases = load_cases(Path(config["dataset"]), config["train_cases"], Path(config["cache_dir"]))
    sampler = Sampler(cases, options.patch, config["seed"] + state["iteration"])
    loss_fn = DiceLoss(sigmoid=True, squared_pred=True, smooth_nr=0.0, smooth_dr=1e-5)
    net.train()
    while state["elapsed"] < options.budget_seconds:
        started = time.process_time()
        fraction = min(1.0, state["elapsed"] / options.budget_seconds)
        for group in optimiser.param_groups:
            group["lr"] = float(options.lr * 0.5 * (1 + np.cos(np.pi * fraction)))  # a float: loadable weights-only
        x, y = sampler.crop()
        loss = loss_fn(net(torch.from_numpy(x[None])), torch.from_numpy(y[None]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        state["iteration"] += 1
        state["losses"].append(round(loss.item(), 5))
        state["elapsed"] += time.process_time() - started
        if state["iteration"] % CHECKPOINT_EVERY == 0:
            _save_atomic({"net": net.state_dict(), "optimiser": optimiser.state_dict(), **state}, checkpoint)
            recent = np.mean(state["losses"][-CHECKPOINT_EVERY:])
            print(f"iteration {state['iteration']}: loss {recent:.4f}, {state['elapsed']:.0f}/{options.budget_seconds:.0f} s",
                  flush=True)
    model = out / "model"
    model.mkdir(exist_ok=True)
    _save_atomic(net.state_dict(), model / "model.pt")
    card = {"id": config["model_id"], "method": "peer-segresnet", "network": "monai.networks.nets.SegResNet",
            "training": {"seconds": round(state["elapsed"], 1), "iterations": state["iteration"],
                         "options": options.__dict__, "train_cases": config["train_cases"],
                         "final_loss": float(np.mean(state["losses"][-50:])) if state["losses"] else None}}
    (model / "card.json").write_text(json.dumps(card, indent=1) + "\n")


def predict(model_dir: Path, folder: Path, cache: Path):
    """(probabilities {tta: (3,z,y,x) WT/TC/ET sigmoids}, truth classes, regions=True) for one held-out case."""
    import torch
    from monai.inferers import sliding_window_inference

    from weakseg.training.data import load_training_case

    torch.set_num_threads(1)
    card = json.loads((model_dir / "card.json").read_text())
    net = network(card["training"]["options"]["init_filters"])
    net.load_state_dict(torch.load(model_dir / "model.pt", weights_only=True))
    net.eval()
    case = load_training_case(folder, data_config(), keep_full=True, cache_dir=cache)
    x = torch.from_numpy(np.asarray(case.stack, np.float32)[None])

    def run(volume):
        with torch.no_grad():
            return torch.sigmoid(sliding_window_inference(volume, (160, 160, 160), 1, net, overlap=0.25))[0].numpy()

    plain = run(x)
    flipped = run(torch.flip(x, dims=[-1]))[..., ::-1]
    return {False: plain, True: (plain + flipped) / 2}, case.classes_full, True
