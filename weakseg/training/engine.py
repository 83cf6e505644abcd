"""The training loop every method shares: seeding, data, checkpoints, resume, events, DDP, AMP.

A method object supplies the network, the slice pools, ``draw_batch(rng)``,
``loss(network, batch)``, the optimiser and the model card; the ``Trainer`` does the
rest. Batches are drawn from ``numpy.random.default_rng([seed, rank, iteration, b])``:
the data order is a pure function of the iteration, so a resumed run needs no sampler
state and ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from weakseg.errors import WeakSegError
from weakseg.errors import Cancelled
from weakseg.inference.engine import resolve_device
from weakseg.io.atomic import write_text_atomic
from weakseg.training import distributed
from weakseg.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from weakseg.training.config import TrainConfig, check_resumable
from weakseg.training.data import TrainingCase, dataset_folders, load_training_case, weak_from_full, weak_from_store
from weakseg.training.events import Eta, EventLog, Progress
from weakseg.training.layout import channels_last_weights

log = logging.getLogger("weakseg")

MODEL_FOLDER = "model"
EVENTS_NAME = "events.jsonl"
CURVES_NAME = "curves.png"
CONFIG_NAME = "config.json"


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def select_cases(config: TrainConfig, folders: list[Path]) -> tuple[list[Path], list[Path]]:
    """(training folders, validation folders) from the config's case ids; unknown ids are an error."""
    by_id = {p.name: p for p in folders}
    for name in [*(config.train_cases or []), *config.validation_cases, *(config.full_cases or [])]:
        if name not in by_id:
            raise WeakSegError(f"case '{name}' is not in the dataset", config.dataset)
    validation = [by_id[c] for c in config.validation_cases]
    if config.train_cases is not None:
        train = [by_id[c] for c in config.train_cases]
    else:
        train = [p for p in folders if p.name not in set(config.validation_cases)]
    overlap = {p.name for p in train} & {p.name for p in validation}
    if overlap:
        raise WeakSegError(f"case(s) {', '.join(sorted(overlap))} are both trained on and held out for validation")
    return train, validation


class Trainer:
    """Runs ``method`` as configured; ``run()`` returns the model folder (card + safetensors)."""

    def __init__(self, config: TrainConfig, method, progress: Progress | None = None,
                 cancel: threading.Event | None = None):
        self.config = config
        self.method = method
        self.progress = progress
        self.cancel = cancel
        self.precision = "float32"  # set by _autocast when the loop starts
        self.out = Path(config.out) if config.out else None
        if self.out is None:
            raise WeakSegError("no output folder given for the training run")

    # --- data --------------------------------------------------------------------------------------------
    def load_data(self) -> tuple[list[TrainingCase], list[TrainingCase]]:
        cfg = self.config
        folders = dataset_folders(cfg.dataset)
        train_folders, val_folders = select_cases(cfg, folders)
        data_config = self.method.data_config()
        full_ids = set(cfg.full_cases) if cfg.full_cases is not None else None
        train = []
        for folder in train_folders:
            listed_full = full_ids is not None and folder.name in full_ids
            wants_full = full_ids is None or listed_full
            case = load_training_case(folder, data_config, keep_full=not wants_full, cache_dir=cfg.cache_dir)
            if wants_full and case.full:
                train.append(case)
                continue
            if listed_full:
                raise WeakSegError("case is listed as fully annotated but has no label file (*_seg)", folder)
            if cfg.derive_weak and case.classes_full is not None:
                seed = cfg.seed + zlib.crc32(case.case_id.encode())  # the same strokes for a case on every run
                train.append(weak_from_full(case, cfg.derive_weak_erosion, tuple(cfg.derive_weak_kinds), seed))
                continue
            from weakseg.labels import WeakLabelStore

            if not WeakLabelStore.exists(folder):
                raise WeakSegError("case has no weak labels (weaklabels/labels.json); label it, or set derive_weak "
                                   "to derive its slice labels from its ground truth", folder)
            store = WeakLabelStore.open(folder, create=False)
            store.verify()  # a mask that is missing or fails its SHA-256 is refused, never silently ignored
            train.append(weak_from_store(case, store))
        validation = [load_training_case(f, data_config, keep_full=True, cache_dir=cfg.cache_dir) for f in val_folders]
        return train, validation

    # --- helpers ---------------------------------------------------------------------------------------------
    def _state(self, network, optimizer, schedule, scaler, iteration: int, history: list) -> dict[str, Any]:
        state = {"iteration": iteration, "model": distributed.unwrap(network).state_dict(),
                 "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "validation": history,
                 "config": self.config.to_dict(), "method": self.method.config.to_dict()}
        if scaler is not None:
            state["scaler"] = scaler.state_dict()
        return state

    def _autocast(self, device: torch.device):
        """(autocast context factory, grad scaler or None); records the precision for the card."""
        self.precision = "float32"
        if device.type == "cpu" and self.config.cpu_bfloat16:
            from weakseg.inference import fast_network

            if fast_network.native_bfloat16():
                self.precision = "bfloat16 autocast (CPU)"
                return (lambda: torch.autocast("cpu", dtype=torch.bfloat16)), None
            log.warning("cpu_bfloat16: this CPU has no native bfloat16 (AMX / AVX512-BF16); training in float32")
        if device.type != "cuda" or not self.config.amp:
            return contextlib.nullcontext, None
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
        self.precision = f"{'bfloat16' if scaler is None else 'float16'} autocast (CUDA)"
        return (lambda: torch.autocast("cuda", dtype=dtype)), scaler

    # --- the loop ----------------------------------------------------------------------------------------------
    def run(self) -> Path:
        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        device = resolve_device(cfg.device)
        info = distributed.setup(device)
        device = distributed.device_for(info, device)
        out = self.out
        leftovers = _Leftovers(out) if info.is_main else None
        failed = True
        try:
            result = self._run(cfg, info, device, out)
            failed = False
            return result
        except BaseException:
            if leftovers is not None:
                leftovers.remove()
            raise
        finally:
            distributed.cleanup(info, failed)

    def _run(self, cfg: TrainConfig, info, device: torch.device, out: Path) -> Path:
        checkpoint_path = out / CHECKPOINT_NAME
        saved_config = out / CONFIG_NAME
        record = {"train": cfg.to_dict(), "method_resolved": self.method.config.to_dict()}
        if cfg.resume and not checkpoint_path.is_file():
            raise WeakSegError("cannot resume: the run folder holds no checkpoint (start a new run without --resume)",
                               out)
        if cfg.resume:
            checkpoint = load_checkpoint(checkpoint_path)
            check_resumable(checkpoint["config"], cfg.to_dict(), checkpoint_path)
        else:
            checkpoint = None
            if checkpoint_path.is_file() and not cfg.resume:
                raise WeakSegError("run folder already holds a checkpoint; pass --resume to continue it or choose "
                                   "another --out", out)
        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            import json

            write_text_atomic(saved_config, json.dumps(record, indent=2, default=list) + "\n")
        started = time.perf_counter()
        train_cases, val_cases = self.load_data()
        seed_everything(cfg.seed)
        network = self.method.build_network()
        pools = self.method.prepare(train_cases, network)
        network.to(device)
        if device.type == "cpu":
            channels_last_weights(network)
        optimizer, schedule = self.method.build_optimizer(network, cfg.iterations)
        autocast, scaler = self._autocast(device)
        start, history = 0, []
        if checkpoint is not None:
            network.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            schedule.load_state_dict(checkpoint["schedule"])
            if scaler is not None and "scaler" in checkpoint:
                scaler.load_state_dict(checkpoint["scaler"])
            start, history = int(checkpoint["iteration"]), list(checkpoint.get("validation", []))
        network = distributed.wrap(network, info, device)
        network.train()
        events = EventLog(out / EVENTS_NAME, self.progress, total=cfg.iterations, start=start,
                          bar=cfg.progress_bar and info.is_main, enabled=info.is_main)
        events.emit("start", iteration=start, iterations=cfg.iterations, resumed=checkpoint is not None,
                    world_size=info.world_size, device=str(device), train_cases=[c.case_id for c in train_cases],
                    validation_cases=[c.case_id for c in val_cases], pools=pools,
                    load_seconds=round(time.perf_counter() - started, 2))
        eta = Eta()
        bpi = self.method.batches_per_iteration
        try:
            for iteration in range(start, cfg.iterations):
                if self.cancel is not None and self.cancel.is_set():
                    if info.is_main:
                        save_checkpoint(checkpoint_path, self._state(network, optimizer, schedule, scaler, iteration, history))
                    events.emit("cancelled", iteration=iteration)
                    raise Cancelled(f"training cancelled at iteration {iteration}; resume with --resume")
                optimizer.zero_grad(set_to_none=True)
                sums: dict[str, float] = {}
                for b in range(bpi):
                    rng = np.random.default_rng([cfg.seed, info.rank, iteration, b])
                    batch = {k: v.to(device, non_blocking=True) for k, v in self.method.draw_batch(rng).items()}
                    sync = contextlib.nullcontext()
                    if info.enabled and b < bpi - 1:
                        sync = network.no_sync()
                    with sync:
                        with autocast():
                            loss, parts = self.method.loss(network, batch)
                        (scaler.scale(loss) if scaler is not None else loss).backward()
                    for key, value in parts.items():
                        sums[key] = sums.get(key, 0.0) + value / bpi
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                total = sums.get("loss", 0.0) * bpi
                if info.enabled:  # every rank must take the same schedule decision
                    t = torch.tensor([total], dtype=torch.float64, device=device if device.type == "cuda" else "cpu")
                    dist.all_reduce(t)
                    total = float(t) / info.world_size
                schedule.step(optimizer, iteration, total)
                rate = eta.tick()
                done = iteration + 1
                if done % cfg.log_every == 0 or done == cfg.iterations or iteration == start:
                    events.emit("iteration", iteration=iteration, **{k: round(v, 6) for k, v in sums.items()},
                                lr=optimizer.param_groups[0]["lr"], seconds_per_iteration=round(rate, 4),
                                eta_seconds=round(eta.remaining(cfg.iterations - done), 1))
                if cfg.validate_every and done % cfg.validate_every == 0 and done < cfg.iterations and val_cases:
                    if info.is_main:
                        metrics = self.method.validate(distributed.unwrap(network), val_cases, device)
                        history.append({"iteration": iteration, **metrics})
                        events.emit("validation", iteration=iteration, **metrics)
                if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
                    if info.is_main:
                        save_checkpoint(checkpoint_path, self._state(network, optimizer, schedule, scaler, done, history))
                        events.emit("checkpoint", iteration=iteration, path=str(checkpoint_path))
            distributed.sync_buffers(network, info)
            digests = distributed.rank_digests(network, info)
            if len(set(digests)) > 1:
                raise WeakSegError(f"ranks ended with different weights ({', '.join(d[:12] for d in digests)})")
            model_dir = out / MODEL_FOLDER
            if info.is_main:
                model_dir = self._finish(network, device, train_cases, val_cases, pools, history, events, started, info,
                                         digests)
            distributed.barrier(info)
            return model_dir
        finally:
            events.close()

    def _finish(self, network, device, train_cases, val_cases, pools, history, events, started, info,
                digests: list[str]) -> Path:
        from weakseg.models.registry import save_model
        from weakseg.training.curves import plot_curves

        cfg = self.config
        core = distributed.unwrap(network)
        metrics: dict[str, Any] = {}
        if val_cases:
            final = self.method.validate(core, val_cases, device)
            history.append({"iteration": cfg.iterations - 1, **final})
            events.emit("validation", iteration=cfg.iterations - 1, **final)
            metrics = {"validation_cases": [c.case_id for c in val_cases], "final": final,
                       "note": "Dice per region on held-out validation cases at the original resolution, "
                               "inside the brain box, argmax of the softmax"}
        full = [c.case_id for c in train_cases if c.full]
        weak = [c.case_id for c in train_cases if not c.full]
        training = {
            "dataset": str(cfg.dataset), "full_cases": full, "weak_cases": weak,
            "validation_cases": [c.case_id for c in val_cases], "iterations": cfg.iterations, "seed": cfg.seed,
            "world_size": info.world_size, "device": str(device), "precision": self.precision, "slice_pools": pools,
            "seconds": round(time.perf_counter() - started, 1),
            "method_config": self.method.config.to_dict(), "validation_history": history,
        }
        card = self.method.model_card(cfg.model_id, training, metrics, cfg.licence, cfg.description)
        card.family = cfg.family
        model_dir = save_model(core, card, self.out / MODEL_FOLDER)
        plot_curves(self.out / EVENTS_NAME, self.out / CURVES_NAME)
        events.emit("done", iteration=cfg.iterations - 1, model=str(model_dir), seconds=training["seconds"],
                    world_size=info.world_size, rank_digests=digests)
        return model_dir


class _Leftovers:
    """What a failed run must not leave behind: files it created before a checkpoint made it resumable.

    A run folder with ``config.json`` but no checkpoint looks like a run that can be resumed
    or inspected; after a failure only what was there before (and a checkpoint) remains.
    """

    def __init__(self, out: Path):
        self.out = out
        self.existed = out.exists()
        self.before = set(os.listdir(out)) if out.is_dir() else set()

    def remove(self) -> None:
        if not self.out.is_dir() or (self.out / CHECKPOINT_NAME).is_file():
            return
        for name in set(os.listdir(self.out)) - self.before:
            path = self.out / name
            with contextlib.suppress(OSError):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        if not self.existed:
            with contextlib.suppress(OSError):
                self.out.rmdir()


def export_checkpoint(run_dir: str | Path, folder: str | Path, model_id: str | None = None) -> Path:
    """Write a model folder (card + safetensors) from a run's last checkpoint, e.g. of a run cut short.

    The card records the iteration reached, so a model exported early says so.
    """
    from weakseg.models.registry import save_model
    from weakseg.methods import method_module

    run_dir = Path(run_dir)
    state = load_checkpoint(run_dir / CHECKPOINT_NAME)
    config = TrainConfig.from_dict(state["config"])
    module = method_module(config.method)
    if not hasattr(module, "build_method"):
        raise WeakSegError(f"method '{config.method}' cannot export checkpoints yet", run_dir)
    method = module.build_method(state["method"])
    network = method.build_network()
    network.load_state_dict(state["model"])
    history = list(state.get("validation", []))
    training = {"dataset": config.dataset, "iterations_planned": config.iterations,
                "iterations_done": int(state["iteration"]), "seed": config.seed,
                "validation_cases": config.validation_cases, "method_config": state["method"],
                "validation_history": history, "exported_from_checkpoint": True}
    metrics = {"validation_cases": config.validation_cases, "last_validation": history[-1]} if history else {}
    card = method.model_card(model_id or config.model_id, training, metrics, config.licence, config.description)
    card.family = config.family
    return save_model(network, card, folder)
