"""Stage B: the EM-regularised U-Net, driven by the shared training engine.

``prepare`` fits stage A and computes each case's prior and vacuity on ROI2; the first
epoch trains on q = prior (gamma = 0). Before every later epoch the E-step (eqs. 4–5)
re-estimates q = (1 − γ)·prior + γ·p_cnn, with γ = [g(prior, p_cnn) ≤ κ·vacuity]. The
M-step loss is J = Jsup (partial BCE on ROI1 ∪ ROI3) + λ·Jreg (soft BCE on ROI2);
λ = 0 is the partial-cross-entropy baseline on the same code path (no E-step needed).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from weakseg.errors import WeakSegError
from weakseg.methods.emredl import data as emdata
from weakseg.methods.emredl import prior as stage_a
from weakseg.methods.emredl.config import FALLBACK_WARNING, EMReDLConfig
from weakseg.nn.emredl import EMReDLNet, EMReDLNetConfig
from weakseg.training.engine import Trainer

log = logging.getLogger("weakseg")


def tumour_logit(network, images: torch.Tensor) -> torch.Tensor:
    """(B, H, W) logit of the tumour class (2-class softmax ≡ sigmoid of the logit difference)."""
    seg, _ = network(images)
    return seg[:, 1] - seg[:, 0]


def dissimilarity(prior: np.ndarray, cnn: np.ndarray, kind: str) -> np.ndarray:
    """g(prior, cnn) in [0, 1]-ish (spec §6.3): absolute difference, binary disagreement, or symmetric KL."""
    if kind == "abs":
        return np.abs(prior - cnn)
    if kind == "binary":
        return ((prior >= 0.5) != (cnn >= 0.5)).astype(np.float32)
    a, b = np.clip(prior, 1e-6, 1 - 1e-6), np.clip(cnn, 1e-6, 1 - 1e-6)
    return 0.5 * ((a - b) * (np.log(a / b) - np.log((1 - a) / (1 - b))))


class EMReDLMethod:
    """What ``Trainer`` drives: network, pools, E-step at epoch boundaries, the loss J, the card."""

    name = "emredl"
    batches_per_iteration = 1

    def __init__(self, config: EMReDLConfig):
        self.config = config
        self.refs: dict = {}
        self.cases: list[emdata.EMCase] = []
        self.val_cases: list[emdata.EMCase] = []
        self.pool = np.zeros((0, 2), np.int64)
        self.canvas = (0, 0)
        self.network: EMReDLNet | None = None
        self.start_iteration = 0
        self.drawn = 0
        self.q_epoch = -1
        self.prior_summary: dict[str, Any] = {}
        self.em_history: list[dict[str, float]] = []

    # --- setup -------------------------------------------------------------------------------------------
    def network_config(self) -> EMReDLNetConfig:
        cfg = self.config
        unet = {"in_channels": len(cfg.names), "n_classes": 2, "base": cfg.base, "depth": cfg.depth,
                "same_padding": True, "branches": 0}
        d = cfg.prior_features
        return EMReDLNetConfig(unet, d, (cfg.prior_hidden or d) * cfg.prior_members)

    def build_network(self) -> EMReDLNet:
        return EMReDLNet(self.network_config())

    def set_cases(self, train_raw: list[emdata.RawCase], val_raw: list[emdata.RawCase]) -> None:
        """Fit the histogram references on the training cases and normalise every case with them."""
        if not train_raw:
            raise WeakSegError("no training cases")
        self.refs = emdata.fit_references(train_raw, self.config)
        self.cases = [emdata.normalise_case(c, self.refs, self.config) for c in train_raw]
        self.val_cases = [emdata.normalise_case(c, self.refs, self.config) for c in val_raw]

    def prepare(self, cases: list[emdata.EMCase], network: EMReDLNet) -> dict[str, int]:
        cfg = self.config
        self.cases, self.network = cases, network
        if cfg.prior_fallback:
            log.warning(FALLBACK_WARNING)
        device = next(network.parameters()).device
        pos = np.concatenate([emdata.prior_features(c, cfg, emdata.prior_positives(c, cfg)) for c in cases])
        neg = np.concatenate([emdata.prior_features(c, cfg, c.regions == emdata.ROI3) for c in cases])
        val = None
        if self.val_cases:
            val = (np.concatenate([emdata.prior_features(c, cfg, emdata.prior_positives(c, cfg)) for c in self.val_cases]),
                   np.concatenate([emdata.prior_features(c, cfg, c.regions == emdata.ROI3) for c in self.val_cases]))
        seed = int(torch.initial_seed() % (2 ** 31))
        self.prior_summary = stage_a.train_members(network.prior, pos, neg, cfg, device, seed, val)
        for case in [*cases, *self.val_cases]:
            self.fill_prior(case, network, device)
        self.pool = np.array([(i, z) for i, c in enumerate(cases) for z in c.slices], np.int64)
        multiple = 2 ** cfg.depth
        h = max(c.stack.shape[2] for c in [*cases, *self.val_cases])
        w = max(c.stack.shape[3] for c in [*cases, *self.val_cases])
        self.canvas = (h + (-h) % multiple, w + (-w) % multiple)
        roi2 = sum(int((c.regions == emdata.ROI2).sum()) for c in cases)
        return {"slices": len(self.pool), "roi1_voxels": len(pos), "roi2_voxels": roi2, "roi3_voxels": len(neg)}

    def fill_prior(self, case: emdata.EMCase, network: EMReDLNet, device: torch.device) -> None:
        roi2 = case.regions == emdata.ROI2
        case.prior = np.zeros(case.regions.shape, np.float32)
        case.vacuity = np.ones(case.regions.shape, np.float32)
        p, u = stage_a.predict(network.prior, emdata.prior_features(case, self.config, roi2), device)
        case.prior[roi2] = (p >= 0.5).astype(np.float32) if self.config.binary_prior else p
        case.vacuity[roi2] = u
        case.q = case.prior.copy()  # epoch 1: gamma = 0, the prior alone (paper)

    @property
    def epoch_iterations(self) -> int:
        return self.config.epoch_iterations or max(1, math.ceil(len(self.pool) / self.config.batch_size))

    # --- E-step --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def cnn_probability(self, network, case: emdata.EMCase, device: torch.device) -> np.ndarray:
        from weakseg.inference.engine import InferenceConfig, predict_slices

        probs, _ = predict_slices(network, case.stack, InferenceConfig(device=str(device), batch_size=16, tta=False))
        return probs[1]

    def e_step(self, epoch: int) -> None:
        network = self.network
        device = next(network.parameters()).device
        was_training = network.training
        accepted = total = 0
        change = 0.0
        for case in [*self.cases, *self.val_cases]:
            roi2 = case.regions == emdata.ROI2
            p_cnn = self.cnn_probability(network, case, device)[roi2]
            prior, vacuity = case.prior[roi2], case.vacuity[roi2]
            gamma = (dissimilarity(prior, p_cnn, self.config.dissimilarity) <= self.config.kappa * vacuity)
            q = np.where(gamma, p_cnn, prior).astype(np.float32)
            change += float(np.abs(q - case.q[roi2]).sum())
            case.q[roi2] = q
            accepted += int(gamma.sum())
            total += int(roi2.sum())
        network.train(was_training)
        entry = {"epoch": epoch, "gamma_fraction": round(accepted / max(total, 1), 5),
                 "mean_abs_change_q": round(change / max(total, 1), 6)}
        self.em_history.append(entry)
        log.info("EMReDL E-step: %s", entry)

    # --- batches and loss -------------------------------------------------------------------------------------
    def draw_batch(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        iteration = self.start_iteration + self.drawn
        self.drawn += 1
        epoch = iteration // self.epoch_iterations
        if epoch != self.q_epoch:
            if epoch > 0 and self.config.lam > 0:
                self.e_step(epoch)
            self.q_epoch = epoch
        rows = self.pool[rng.integers(0, len(self.pool), self.config.batch_size)]
        h, w = self.canvas
        images = np.zeros((len(rows), len(self.config.names), h, w), np.float32)
        regions = np.zeros((len(rows), h, w), np.int64)
        q = np.zeros((len(rows), h, w), np.float32)
        for b, (i, z) in enumerate(rows):
            case = self.cases[i]
            sh, sw = case.stack.shape[2:]
            top, left = (h - sh) // 2, (w - sw) // 2
            images[b, :, top:top + sh, left:left + sw] = case.stack[:, z]
            regions[b, top:top + sh, left:left + sw] = case.regions[z]
            q[b, top:top + sh, left:left + sw] = case.q[z]
        return {"images": torch.from_numpy(images), "regions": torch.from_numpy(regions), "q": torch.from_numpy(q)}

    def objective(self, logit: torch.Tensor, regions: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """J = Jsup + λ·Jreg; means over each term's voxels, or one sum over the labelled voxels (spec §6.9)."""
        logit = logit.float()
        sup = (regions == emdata.ROI1) | (regions == emdata.ROI3)
        roi2 = regions == emdata.ROI2
        sum_sup = F.binary_cross_entropy_with_logits(logit[sup], (regions[sup] == emdata.ROI1).float(), reduction="sum")
        sum_reg = F.binary_cross_entropy_with_logits(logit[roi2], q[roi2], reduction="sum")
        n_sup, n_reg = int(sup.sum()), int(roi2.sum())
        j_sup, j_reg = sum_sup / max(n_sup, 1), sum_reg / max(n_reg, 1)
        if self.config.loss_normalisation == "labelled":
            loss = (sum_sup + self.config.lam * sum_reg) / max(n_sup + self.config.lam * n_reg, 1.0)
        elif self.config.loss_normalisation == "regions":
            loss = self._per_region(logit, regions, j_reg)
        else:
            loss = j_sup + self.config.lam * j_reg
        return loss, {"loss": loss.detach().item(), "loss_sup": j_sup.detach().item(), "loss_reg": j_reg.detach().item()}

    def _per_region(self, logit: torch.Tensor, regions: torch.Tensor, j_reg: torch.Tensor) -> torch.Tensor:
        """(mean BCE over ROI1 + over ROI3 + λ·J_reg) / (number of terms present): each region weighs the same."""
        terms = []
        for region, target in ((emdata.ROI1, 1.0), (emdata.ROI3, 0.0)):
            inside = regions == region
            if inside.any():
                terms.append(F.binary_cross_entropy_with_logits(logit[inside], torch.full_like(logit[inside], target)))
        weight = float(len(terms))
        total = sum(terms) if terms else logit.sum() * 0.0
        if self.config.lam and (regions == emdata.ROI2).any():
            total, weight = total + self.config.lam * j_reg, weight + self.config.lam
        return total / max(weight, 1.0)

    def loss(self, network, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return self.objective(tumour_logit(network, batch["images"]), batch["regions"], batch["q"])

    def build_optimizer(self, network, iterations: int):
        from weakseg.methods.mixed import FunctionSchedule

        optimiser = torch.optim.Adam(network.unet.parameters() if hasattr(network, "unet") else network.parameters(),
                                     lr=self.config.lr)
        return optimiser, FunctionSchedule(self.config.lr, iterations, cosine=False)

    # --- validation and card ----------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, network, cases: list[emdata.EMCase], device: torch.device) -> dict[str, float]:
        """J, Jsup and Jreg on the validation cases with their current E-step targets (spec §6.11)."""
        sums = {"loss": 0.0, "loss_sup": 0.0, "loss_reg": 0.0}
        for case in cases:
            logit = torch.logit(torch.from_numpy(self.cnn_probability(network, case, device)).clamp(1e-6, 1 - 1e-6))
            _, parts = self.objective(logit, torch.from_numpy(case.regions.astype(np.int64)), torch.from_numpy(case.q))
            for k in sums:
                sums[k] += parts[k] / len(cases)
        network.train()
        return {f"val_{k}": round(v, 6) for k, v in sums.items()} if cases else {}

    def model_card(self, model_id: str, training: dict[str, Any], metrics: dict[str, Any], licence: str,
                   description: str):
        from weakseg.methods.emredl.outputs import emredl_labels
        from weakseg.models.card import ModelCard

        cfg = self.config
        training = {**training, "prior": self.prior_summary, "em_history": self.em_history,
                    "baseline": cfg.lam == 0}
        return ModelCard(
            id=model_id, method="emredl", network={"name": "emredl", "config": self.network_config().to_dict()},
            sequences=list(cfg.names), labels=emredl_labels(),
            preprocessing={"channels": cfg.channels, "prior_channels": cfg.prior_channels,
                           "prior_context": cfg.prior_context,
                           "prior_fallback": cfg.prior_fallback,
                           "references": {n: r.to_dict() for n, r in self.refs.items()},
                           "brain": "non-zero voxels of the structural channels, holes filled",
                           "orientation": "LPS voxel order, axial slices"},
            inference={"mode": "emredl", "tau": cfg.tau, "tau_source": "configured (no infiltration truth in training)"},
            training=training, metrics=metrics,
            licence=licence or "Research use only; not for clinical decisions.",
            description=description or ("EMReDL (paper 000): tumour probability from partial labels; "
                                         + ("partial-cross-entropy baseline (lambda = 0)" if cfg.lam == 0
                                            else f"EM-regularised, lambda = {cfg.lam}")))


class EMReDLTrainer(Trainer):
    """The shared trainer with EMReDL's own case loading (channels beyond the four sequences, region labels)."""

    def load_data(self):
        from weakseg.training.data import dataset_folders
        from weakseg.training.engine import select_cases

        cfg = self.config
        train_folders, val_folders = select_cases(cfg, dataset_folders(cfg.dataset))
        method: EMReDLMethod = self.method
        train = [emdata.load_raw_case(f, method.config, cfg.derive_weak) for f in train_folders]
        val = [emdata.load_raw_case(f, method.config, cfg.derive_weak) for f in val_folders]
        method.set_cases(train, val)
        return method.cases, method.val_cases
