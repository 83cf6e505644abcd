"""``weakseg infiltration``: apply an EMReDL model to one patient (paper 000, the clinician's flow from the CLI).

Writes, all or nothing, into --out: the tumour-probability volume, a labelmap with
1 "Core tumour", 2 "Infiltrated tumour", 3 "Non-infiltrated oedema" at threshold τ, the
volume table in cm³ (CSV), and a JSON summary (τ, model, volumes, caveats); with --prior
also stage A's prior and vacuity maps on ROI2; and the ROI names and types for
``weakseg export-rtstruct --names-json`` (infiltration as a CTV candidate). Every input is checked before the model runs.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from weakseg.errors import WeakSegError

OUTPUTS = {"probability": "tumour-probability.nii.gz", "segments": "infiltration-segments.nii.gz",
           "volumes": "infiltration-volumes.csv", "summary": "infiltration.json",
           "rt_names": "infiltration-rt-names.json"}


def rt_names() -> dict[str, dict]:
    """For ``weakseg export-rtstruct --names-json``: the infiltration goes out as a CTV candidate (stated)."""
    from weakseg.methods.emredl.outputs import RT_ROIS

    return {str(value): {"name": name, "type": kind} for value, (name, kind) in RT_ROIS.items()}


PRIOR_OUTPUTS = {"prior": "prior-probability.nii.gz", "vacuity": "prior-vacuity.nii.gz"}


def _tau(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tau must be a number in (0, 1), not {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"tau must be in (0, 1), got {value}")
    return value


def register(sub) -> None:
    parser = sub.add_parser("infiltration", help="tumour infiltration beyond the enhancing core (EMReDL model)",
                            description="Apply an EMReDL model: tumour probability, 'Core tumour', 'Infiltrated tumour' "
                                        "and 'Non-infiltrated oedema' at threshold tau, and their volumes in cm3. Needs "
                                        "the model's channels on one grid, the enhancing-core mask and the FLAIR mask.")
    parser.add_argument("--model", required=True, help="EMReDL model id or folder")
    parser.add_argument("--case", metavar="DIR", help="case folder holding the channels (*_t1ce, *_rcbv, ...)")
    parser.add_argument("--channel", action="append", default=[], metavar="NAME=FILE",
                        help="a channel file, e.g. --channel rcbv=rcbv.nii.gz (repeatable; overrides --case)")
    parser.add_argument("--core", required=True, metavar="FILE", help="enhancing-core mask (ROI1; non-zero = core)")
    parser.add_argument("--flair", required=True, metavar="FILE", help="FLAIR-abnormality mask, containing the core")
    parser.add_argument("--brain", metavar="FILE", help="brain mask (default: non-zero voxels of the structural channels)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--tau", type=_tau, help="threshold of the tumour probability (default: the model card's)")
    parser.add_argument("--prior", action="store_true", help="also write stage A's prior and vacuity maps on ROI2")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.set_defaults(func=run)


def channel_paths(args, names: list[str]) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    if args.case:
        from weakseg.methods.emredl.channels import find_channel_files

        folder = Path(args.case)
        if not folder.is_dir():
            raise WeakSegError("case folder not found", folder)
        paths.update(find_channel_files(folder, names))
    for item in args.channel:
        name, sep, file = item.partition("=")
        if not sep or not name or not file:
            raise WeakSegError(f"--channel expects NAME=FILE, got '{item}'")
        paths[name] = Path(file)
    unknown = sorted(set(paths) - set(names))
    if unknown and args.channel:
        raise WeakSegError(f"channel(s) {', '.join(unknown)} are not inputs of the model (it takes {', '.join(names)})")
    return {n: p for n, p in paths.items() if n in names}


def volume_csv(rows: list[tuple[str, float]], tau: float) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["segment", "volume_cm3", "tau"])
    for name, cm3 in rows:
        writer.writerow([name, f"{cm3:.3f}", f"{tau:g}"])
    return buffer.getvalue()


def run(args) -> int:
    import numpy as np

    from weakseg.io.atomic import write_text_atomic
    from weakseg.io.image import write_image
    from weakseg.io.output_set import OutputSet
    from weakseg.methods.emredl import infiltration as inf
    from weakseg.methods.emredl.outputs import CAVEATS, SEGMENTS
    from weakseg.models.registry import load_model

    started = time.perf_counter()
    model = load_model(args.model)
    config = inf.model_config(model)
    paths = channel_paths(args, config.names)
    inputs = inf.read_inputs(model, paths, args.core, args.flair, args.brain)
    files = dict(OUTPUTS, **(PRIOR_OUTPUTS if args.prior else {}))
    read = [*paths.values(), args.core, args.flair, *([args.brain] if args.brain else [])]
    outputs = OutputSet(files, out_dir=args.out, inputs=read, case_dirs=[args.case] if args.case else [],
                        what="infiltration output")
    result = inf.run_infiltration(model, inputs, tau=args.tau, with_prior=args.prior, device=args.device)
    rows = result.volumes()
    with outputs:
        write_image(result.image(result.probability), outputs.path("probability"))
        write_image(result.image(result.labelmap()), outputs.path("segments"))
        write_text_atomic(outputs.path("volumes"), volume_csv(rows, result.tau))
        if args.prior:
            write_image(result.image(result.prior.astype(np.float32)), outputs.path("prior"))
            write_image(result.image(result.vacuity.astype(np.float32)), outputs.path("vacuity"))
        summary = {"model": model.id, "model_version": model.card.version_label, "tau": result.tau,
                   "tau_source": "--tau" if args.tau is not None else "model card",
                   "segments": {str(v): name for v, name in SEGMENTS.items()},
                   "volumes_cm3": dict(rows), "channels": config.names, "warnings": result.warnings,
                   "rt_note": "'Infiltrated tumour' is a CTV candidate, not a GTV; export it as such",
                   "caveats": CAVEATS}
        write_text_atomic(outputs.path("summary"), json.dumps(summary, indent=2) + "\n")
        write_text_atomic(outputs.path("rt_names"), json.dumps(rt_names(), indent=2) + "\n")
    if not args.quiet:
        print(f"model        {model.id}  (tau {result.tau:g}, {time.perf_counter() - started:.1f} s)")
        for name, cm3 in rows:
            print(f"{name:<26} {cm3:9.3f} cm3")
        for kind, path in outputs.final.items():
            print(f"{kind:<12} {path}")
    return 0
