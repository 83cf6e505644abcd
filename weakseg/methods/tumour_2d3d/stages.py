"""The 2D-3D method's training plan: resumable stages, each a ``Trainer`` run, finished ones skipped.

A run folder holds ``stages/<name>/`` for every 2D stage (subnetwork pretraining per
orientation and sequence, the 2D network per orientation, its out-of-fold copies) and the
3D stage in the run folder itself (``checkpoint.pt``, ``events.jsonl``, ``model/``), so
``weakseg train --resume`` and checkpoint export treat it like any run. A stage whose
``model/card.json`` exists is done; one with a checkpoint resumes; the rest start fresh.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from weakseg.errors import WeakSegError
from weakseg.methods.tumour_2d3d.config import Tumour2D3DConfig
from weakseg.methods.tumour_2d3d.slices import SliceStage
from weakseg.methods.tumour_2d3d.volumes import VolumeStage
from weakseg.training.checkpoint import CHECKPOINT_NAME

STAGES = "stages"
FEATURES = "features"


def _with_stage(progress, name: str):
    if progress is None:
        return None
    return lambda event: progress({**event, "stage": name})


def run_stage(config, name: str, method, train_cases: list[str], validation: list[str], iterations: int,
              progress=None, cancel: threading.Event | None = None, folder: Path | None = None) -> Path:
    """Train one stage in ``folder`` (default ``<run>/stages/<name>``) unless it has finished; its model folder."""
    from weakseg.training.engine import MODEL_FOLDER, Trainer

    folder = folder or Path(config.out) / STAGES / name
    done = folder / MODEL_FOLDER / "card.json"
    if folder != Path(config.out) and done.is_file():
        return done.parent
    stage_config = replace(config, out=str(folder), train_cases=list(train_cases), validation_cases=list(validation),
                           full_cases=None, derive_weak=False, iterations=iterations,
                           model_id=f"{config.model_id}-{name}"[:100] if name != "3d" else config.model_id,
                           method_options={**config.method_options, "stage": name},
                           resume=(folder / CHECKPOINT_NAME).is_file())
    return Trainer(stage_config, method, _with_stage(progress, name), cancel).run()


def case_sequences(config) -> tuple[dict[str, dict[str, Path]], list[str]]:
    """Training case id → its sequence files; and the validation case ids."""
    from weakseg.io.case import find_case_files
    from weakseg.training.data import dataset_folders
    from weakseg.training.engine import select_cases

    train, validation = select_cases(config, dataset_folders(config.dataset))
    files = {p.name: {k: v for k, v in find_case_files(p).items() if k != "seg"} for p in train}
    return files, [p.name for p in validation]


def training_expects(files: list[Path]) -> dict[str, Any]:
    """The card's ``expects`` block: the training images' voxel size when they share one (headers only)."""
    import SimpleITK as sitk

    spacings = []
    for path in files:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        spacings.append(tuple(round(float(v), 4) for v in reader.GetSpacing()[:3]))
    if not spacings or len(set(spacings)) != 1:
        return {}
    return {"spacing_mm": list(spacings[0])}


def train_all(config, method: str, defaults: dict[str, Any] | None = None, progress=None,
              cancel: threading.Event | None = None) -> Path:
    """Every stage of the 2D-3D method (or of the standard 3D baseline) in order; the final model folder."""
    from weakseg.inference.engine import resolve_device
    from weakseg.training import distributed

    options = {**(defaults or {}), **config.method_options}
    config = replace(config, method_options=options)
    cfg = Tumour2D3DConfig.from_dict({**options, "stage": "3d"}, method)
    out = Path(config.out)
    if not config.resume and ((out / STAGES).exists() or (out / CHECKPOINT_NAME).exists()):
        raise WeakSegError("run folder already holds a training run; pass --resume to continue it or choose "
                           "another --out", out)
    have, validation = case_sequences(config)
    needed = set(cfg.sequences)
    complete = sorted(n for n, s in have.items() if needed <= set(s))
    if not complete:
        raise WeakSegError(f"no training case has every sequence the model needs ({', '.join(cfg.sequences)})",
                           config.dataset)
    pretrain = cfg.pretrain == "on" or (cfg.pretrain == "auto" and len(complete) < len(have))
    with distributed.session(resolve_device(config.device)):  # under torchrun: every stage in one process group
        return _train_stages(config, cfg, method, options, have, validation, complete, pretrain, out, progress, cancel)


def _train_stages(config, cfg: Tumour2D3DConfig, method: str, options: dict[str, Any], have, validation, complete,
                  pretrain: bool, out: Path, progress, cancel) -> Path:
    from weakseg.inference.engine import resolve_device
    from weakseg.training import distributed
    iterations_2d = cfg.iterations_2d or config.iterations
    iterations_pretrain = cfg.iterations_pretrain or iterations_2d
    stage_of = lambda name: Tumour2D3DConfig.from_dict({**options, "stage": name}, method)  # noqa: E731
    models2d: dict[str, Path] = {}
    fold_models: dict[str, list[Path]] = {}
    record: dict[str, Any] = {"complete_cases": complete, "pretrained_subnetworks": pretrain,
                              "incomplete_cases": sorted(set(have) - set(complete))}
    for orientation in cfg.orientations:
        init: dict[int, Path] = {}
        if pretrain:
            for index, sequence in enumerate(cfg.sequences):
                ids = sorted(n for n, s in have.items() if sequence in s)
                name = f"pretrain-{orientation}-{sequence}"
                init[index] = run_stage(config, name, SliceStage(stage_of(name), orientation, subnet=index,
                                                                 method=method), ids, [], iterations_pretrain,
                                        progress, cancel)
                record[name] = {"cases": len(ids)}
        name = f"2d-{orientation}"
        models2d[orientation] = run_stage(config, name, SliceStage(stage_of(name), orientation, init_subnets=init,
                                                                   method=method),
                                          complete, validation, iterations_2d, progress, cancel)
        record[name] = {"cases": len(complete), "initialised_from": [cfg.sequences[i] for i in sorted(init)]}
        for fold in range(cfg.oof_folds):
            name = f"2d-{orientation}-fold{fold}"
            ids = [c for i, c in enumerate(complete) if i % cfg.oof_folds != fold]
            fold_models.setdefault(orientation, []).append(
                run_stage(config, name, SliceStage(stage_of(name), orientation, init_subnets=init, method=method),
                          ids, [], iterations_2d, progress, cancel))
            record[name] = {"cases": len(ids)}
    position = {c: i for i, c in enumerate(complete)}
    fold_of = (lambda case_id: position[case_id] % cfg.oof_folds) if cfg.oof_folds else None
    device = distributed.device_for(distributed.from_environment(), resolve_device(config.device))
    expects = training_expects([have[c][cfg.sequences[0]] for c in complete])
    stage3d = VolumeStage(cfg, models2d, fold_models, fold_of, out / STAGES / FEATURES, device, method, record,
                          expects)
    return run_stage(config, "3d", stage3d, complete, validation, cfg.iterations_3d or config.iterations,
                     progress, cancel, folder=out)


def build_stage(options: dict[str, Any], method: str):
    """The method object of the stage named in ``options['stage']`` (checkpoint export: weights come
    from the checkpoint, so no 2D stage models are loaded)."""
    cfg = Tumour2D3DConfig.from_dict(options, method)
    parts = cfg.stage.split("-")
    if parts[0] == "pretrain":
        return SliceStage(cfg, parts[1], subnet=cfg.sequences.index(parts[2]), method=method)
    if parts[0] == "2d":
        return SliceStage(cfg, parts[1], method=method)
    if cfg.stage == "3d":
        return VolumeStage(cfg, method=method)
    raise WeakSegError(f"unknown training stage '{cfg.stage}'")
