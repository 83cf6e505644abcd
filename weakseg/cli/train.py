"""``weakseg train``: train a method on a dataset; prints the model folder.

The same command runs on one CPU, one GPU or under ``torchrun`` on several.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from weakseg.errors import WeakSegError


def register(sub) -> None:
    parser = sub.add_parser("train", help="train a segmentation model (e.g. --method mixed)",
                            description="Train a method on a dataset (folder of case folders or manifest). "
                                        "Under torchrun every process runs this same command.")
    parser.add_argument("--method", default=None, help="method name (default: from --config, else 'mixed')")
    parser.add_argument("--dataset", help="folder of case folders, or a dataset manifest")
    parser.add_argument("--out", help="run folder (checkpoint, events.jsonl, curves.png, model/)")
    parser.add_argument("--config", metavar="JSON", help="TrainConfig as JSON; command-line options override it")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--preset", choices=["cpu", "gpu", "paper"],
                        help="settings sized for the machine (default: gpu on CUDA, else cpu; with --config only if given); "
                             "--config and --option values win")
    parser.add_argument("--estimate-only", action="store_true", help="print the estimated training time and exit")
    parser.add_argument("--no-estimate", action="store_true", help="do not time a few steps before training")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--checkpoint-every", type=int)
    parser.add_argument("--validate-every", type=int)
    parser.add_argument("--validation-cases", nargs="+", metavar="ID", help="case ids held out for validation")
    parser.add_argument("--cache", metavar="DIR", help="cache preprocessed cases here (memory-mapped .npy; presets default to ~/.cache/weakseg/training)")
    parser.add_argument("--model-id", help="id written into the model card")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=JSON",
                        help="method option, e.g. --option base=16 --option mode='\"WT\"' (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (events are still written)")
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from weakseg.training.presets import preset_config

    config = preset_config(args.config, args.preset, args.method, args.device)
    updates = {"method": args.method, "dataset": args.dataset, "out": args.out, "iterations": args.iterations,
               "seed": args.seed, "device": args.device, "threads": args.threads,
               "checkpoint_every": args.checkpoint_every, "validate_every": args.validate_every,
               "validation_cases": args.validation_cases, "cache_dir": args.cache, "model_id": args.model_id}
    config = replace(config, **{k: v for k, v in updates.items() if v is not None})
    options = dict(config.method_options)
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise WeakSegError(f"--option expects KEY=VALUE, got '{item}'")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    config = replace(config, method_options=options, resume=bool(args.resume),
                     progress_bar=not args.no_progress and config.progress_bar)
    if not config.dataset:
        raise WeakSegError("give --dataset (or 'dataset' in --config)")
    if not config.out:
        raise WeakSegError("give --out (or 'out' in --config)")
    return config


def run(args: argparse.Namespace) -> int:
    from weakseg.training import train
    from weakseg.training.distributed import from_environment

    config = config_from_args(args)
    if from_environment().is_main and (args.estimate_only or not args.no_estimate):
        from weakseg.training.presets import estimate

        found = estimate(config)
        preset = config.method_options.get("preset")
        print(f"preset       {preset or 'none (settings from --config)'}")
        print(f"estimate     {found.line() if found else 'not available for this method'}", flush=True)
    if args.estimate_only:
        return 0
    model = train(config)
    if from_environment().is_main and not args.quiet:
        out = Path(config.out)
        print(f"model        {model}")
        print(f"card         {model / 'card.json'}")
        print(f"events       {out / 'events.jsonl'}")
        print(f"curves       {out / 'curves.png'}")
    return 0
