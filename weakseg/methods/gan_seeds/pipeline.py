"""Training: every stage in order, each resumable and cached, then one sealed model folder.

Run folder layout: ``stages/<stage>/`` is a shared-engine run (checkpoint, events, sealed stage
model) for the network stages; ``artifacts/<stage>.npz`` holds what the other stages compute
(seeds, healthy variants, refined seeds), keyed by (case, slice) so a stale file is refused;
``stages.json`` records each stage's seconds; ``model/`` is the final model. A re-run with
``--resume`` skips finished stages and continues an interrupted one from its checkpoint.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from weakseg.errors import Cancelled, WeakSegError
from weakseg.io.atomic import write_text_atomic, write_with
from weakseg.models.card import BRATS_LICENCE, ModelCard
from weakseg.training.checkpoint import CHECKPOINT_NAME
from weakseg.training.engine import Trainer, select_cases
from weakseg.training.data import dataset_folders

from . import classifier as classifier_stage
from . import gan, refine, seeds, segment
from .bank import SliceBank, build_bank
from .common import WT_LABEL
from .config import GanSeedsConfig

log = logging.getLogger("weakseg")

STAGES_FILE = "stages.json"


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    write_with(path, writer)


class Pipeline:
    """Runs the stages of one ``TrainConfig`` (method 'gan-seeds'); also the stages' shared context."""

    def __init__(self, config, progress=None, cancel: threading.Event | None = None):
        self.config = config
        self.options = GanSeedsConfig.from_dict(config.method_options)
        self.progress = progress
        self.cancel = cancel
        if not config.out:
            raise WeakSegError("no output folder given for the training run")
        self.run = Path(config.out)
        self._banks: dict[tuple, SliceBank] = {}
        self.bank: SliceBank | None = None
        self.probabilities = self.seeds = self.healthy = self.refined = self.generator_state = None
        self.times = self._read_times()

    # --- context the stages read ---------------------------------------------------------------------
    def bank_for(self, cases) -> SliceBank:
        key = tuple(c.case_id for c in cases)
        if key not in self._banks:
            o = self.options
            self._banks[key] = build_bank(cases, o.size, o.min_brain, o.z_range)
        self.bank = self._banks[key]
        return self.bank

    def training_seeds(self, stage: str):
        """(rows, positive, negative) for S0 (RISE seeds, every slice), S_US (X_C,r ∪ X_NC), S_OS (X_C,r)."""
        y = self.bank.y
        if stage == "s0":
            return np.arange(len(y)), self.seeds["positive"], self.seeds["negative"]
        accepted = self.refined["accepted"]
        if not accepted.any():  # no S0 component explains a tumour: keep the first seeds on X_C (recorded)
            x_c = self.refined["x_c"]
            rows = np.flatnonzero(x_c | (y == 0)) if stage == "s_us" else np.flatnonzero(x_c)
            return rows, self.seeds["positive"], self.seeds["negative"]
        rows = np.flatnonzero(accepted | (y == 0)) if stage == "s_us" else np.flatnonzero(accepted)
        return rows, self.refined["positive"], self.refined["negative"]

    # --- bookkeeping -------------------------------------------------------------------------------------
    def _read_times(self) -> dict:
        path = self.run / STAGES_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def _record(self, stage: str, seconds: float, **info) -> None:
        self.times[stage] = {"seconds": round(seconds, 1), **info}
        write_text_atomic(self.run / STAGES_FILE, json.dumps(self.times, indent=2, default=float) + "\n")

    def _emit(self, **event) -> None:
        if self.progress is not None:
            self.progress({"event": "stage", **event})

    def _check_cancel(self, stage: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"training cancelled before stage {stage}; resume with --resume")

    def train_ids(self) -> list[str]:
        train, _ = select_cases(self.config, dataset_folders(self.config.dataset))
        return [p.name for p in train]

    # --- network stages through the shared engine -----------------------------------------------------
    def network_stage(self, method, iterations: int) -> dict:
        """Train (or resume, or reuse) one stage; returns its final weights."""
        from weakseg.training.cache import default_cache_dir

        folder = self.run / "stages" / method.stage
        model = folder / "model"
        if (model / "card.json").is_file():
            ModelCard.read(model / "card.json")
            if self.bank is None:
                self._load_bank(method)
            return load_file(str(model / "model.safetensors"))
        cfg = replace(self.config, out=str(folder), iterations=iterations, train_cases=self.train_ids(),
                      validation_cases=[], full_cases=[], validate_every=0, model_id=f"gan-seeds-{method.stage}",
                      cache_dir=self.config.cache_dir or str(default_cache_dir()),
                      resume=(folder / CHECKPOINT_NAME).is_file())
        self._emit(stage=method.stage, status="training", iterations=iterations)
        started = time.perf_counter()
        Trainer(cfg, method, self.progress, self.cancel).run()
        self._record(method.stage, time.perf_counter() - started, iterations=iterations, resumed=cfg.resume)
        return load_file(str(model / "model.safetensors"))

    def _load_bank(self, method) -> None:
        """The slice bank when every network stage so far was reused (loads the cases once)."""
        from weakseg.training.cache import default_cache_dir

        cfg = replace(self.config, out=str(self.run / "stages" / method.stage), train_cases=self.train_ids(),
                      validation_cases=[], full_cases=[], cache_dir=self.config.cache_dir or str(default_cache_dir()))
        cases, _ = Trainer(cfg, method).load_data()
        self.bank_for(cases)

    # --- cached array stages -------------------------------------------------------------------------------
    def array_stage(self, stage: str, compute) -> dict[str, np.ndarray]:
        path = self.run / "artifacts" / f"{stage}.npz"
        keys = self.bank.keys
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                stored = {k: data[k] for k in data.files}
            if stored.get("keys") is None or not np.array_equal(stored["keys"], keys) or \
                    list(stored["case_ids"]) != self.bank.case_ids:
                raise WeakSegError(f"cached stage '{stage}' was computed on other slices; remove it to recompute",
                                   path)
            return stored
        self._check_cancel(stage)
        self._emit(stage=stage, status="computing")
        started = time.perf_counter()
        arrays = compute()
        save_arrays(path, keys=keys, case_ids=np.array(self.bank.case_ids), **arrays)
        self._record(stage, time.perf_counter() - started,
                     **{k: int(np.asarray(v).sum()) for k, v in arrays.items() if np.asarray(v).dtype == bool
                        and np.asarray(v).ndim == 1})
        return {"keys": keys, **arrays}

    # --- the whole method --------------------------------------------------------------------------------------
    def run_all(self) -> Path:
        o, run = self.options, self.run
        final = run / "model"
        if (final / "card.json").is_file() and not self.config.resume:
            raise WeakSegError("run folder already holds a finished gan-seeds model; choose another --out", run)
        started_any = (run / "stages").is_dir() or (run / "artifacts").is_dir()
        if started_any and not self.config.resume:
            raise WeakSegError("run folder already holds a gan-seeds run; pass --resume to continue it or choose "
                               "another --out", run)
        if (final / "card.json").is_file():
            return final
        run.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run / "config.json", json.dumps({"train": self.config.to_dict(),
                                                           "method_resolved": o.to_dict()}, indent=2) + "\n")
        from weakseg.nn.gan_seeds_net import GanSeedsNet, GanSeedsNetConfig
        from weakseg.nn.gan_unet import GanUNet
        from weakseg.nn.slice_classifier import SliceClassifier

        c_method = classifier_stage.ClassifierStage(o, self)
        c_state = self.network_stage(c_method, o.iterations_classifier)
        classifier = SliceClassifier(classifier_stage.classifier_config(o))
        classifier.load_state_dict(c_state)
        bank = self.bank

        def seed_stage():
            p = classifier_stage.classify(classifier, bank.x)
            return {"p": p, **seeds.compute_seeds(classifier, bank.x, bank.y, o, self.cancel, self.progress)}

        self.seeds = self.array_stage("seeds", seed_stage)
        self.probabilities = self.seeds["p"]

        a_state = self.network_stage(gan.GanAStage(o, self), o.iterations_gan_a)
        self.generator_state = {k[len("g."):]: v for k, v in a_state.items() if k.startswith("g.")}
        b_state = self.network_stage(gan.GanBStage(o, self), o.iterations_gan_b)
        converter = GanUNet(gan.pair_config(o, "unet").unet_config())
        converter.load_state_dict({k[len("g."):]: v for k, v in b_state.items() if k.startswith("g.")})
        self.healthy = self.array_stage("healthy", lambda: {
            "healthy": gan.healthy_variants(converter, bank.x, bank.y).astype(np.float16)})["healthy"]

        s0_state = self.network_stage(segment.SegStage(o, self, "s0"), o.iterations_seg)
        s0 = GanUNet(segment.unet_config(o))
        s0.load_state_dict(s0_state)

        def refine_stage():
            x_c = (bank.y == 1) & (self.probabilities > 0.5)
            m0 = segment.segment(s0, bank.x)
            out = refine.refine_seeds(classifier, bank.x, x_c, m0, self.seeds["negative"], o.refine_radii)
            return {**out, "x_c": x_c}

        self.refined = self.array_stage("refine", refine_stage)
        if not self.refined["accepted"].any():
            log.warning("gan-seeds: refinement accepted no S0 component; S_US and S_OS train on the first seeds of X_C")
        us_state = self.network_stage(segment.SegStage(o, self, "s_us"), o.iterations_seg)
        os_state = self.network_stage(segment.SegStage(o, self, "s_os"), o.iterations_seg)

        net_config = GanSeedsNetConfig(o.size, len(o.sequences), o.classifier_base, o.classifier_upsample, o.gan_base,
                                       o.unet_base, o.nz, o.seg_slope)
        net = GanSeedsNet(net_config)
        net.classifier.load_state_dict(c_state)
        net.converter.load_state_dict(converter.state_dict())
        net.s0.load_state_dict(s0_state)
        net.s_us.load_state_dict(us_state)
        net.s_os.load_state_dict(os_state)
        return self._save_final(net, net_config)

    def _expects(self) -> dict:
        """The training images' voxel size (from the first case's FLAIR header) for the input checks."""
        import SimpleITK as sitk

        from weakseg.clinical.checks import Expects
        from weakseg.io.case import find_case_files

        folders = {p.name: p for p in dataset_folders(self.config.dataset)}
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(find_case_files(folders[self.bank.case_ids[0]])["flair"]))
        reader.ReadImageInformation()
        return Expects(spacing_mm=tuple(round(float(s), 3) for s in reader.GetSpacing())).to_dict()

    def _save_final(self, net, net_config) -> Path:
        from weakseg.models.registry import save_model

        o, cfg = self.options, self.config
        counts = {**self.bank.counts(), "x_c": int(self.refined["x_c"].sum()),
                  "x_c_refined": int(self.refined["accepted"].sum()),
                  "refinement_fallback": not bool(self.refined["accepted"].any()),
                  "s0_components": int(self.refined["components"])}
        training = {"dataset": str(cfg.dataset), "weak_cases": self.bank.case_ids, "full_cases": [],
                    "labels": "slice labels only (whole tumour present / absent per axial slice)",
                    "derive_weak": cfg.derive_weak, "derive_weak_erosion": cfg.derive_weak_erosion,
                    "seed": cfg.seed, "slices": counts, "stages": self.times, "method_config": o.to_dict()}
        card = ModelCard(
            id=cfg.model_id, method="gan-seeds", network={"name": "gan-seeds", "config": net_config.to_dict()},
            sequences=list(o.sequences), labels=[WT_LABEL], preprocessing={"normalisation": "none", "margin": 0},
            expects=self._expects(),
            inference={"mode": "gan-seeds", "size": o.size, "min_brain": o.min_brain, "threshold": o.threshold,
                       "residual_mask": o.residual_mask, "residual": o.zeta / o.epsilon},
            regions={"WT": [1]}, training=training, metrics={}, licence=cfg.licence or BRATS_LICENCE,
            description=cfg.description or "Whole tumour from slice labels only (paper 002: classifier, RISE seeds, "
                                           "healthy-variant GAN, refined seeds); per-slice difference scores flag "
                                           "slices to review. Research use only.")
        return save_model(net, card, self.run / "model")
