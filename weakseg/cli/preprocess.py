"""``weakseg preprocess CASE --out DIR``: run the clinical-input pipeline alone and look at what it did.

Writes the prepared sequences (BraTS names, so DIR is a case ``weakseg segment`` reads as
it is), the brain mask, a JSON of the fitness checks and steps, a before/after PNG and one
registration checkerboard PNG per registered sequence.
"""

from __future__ import annotations

import argparse
import json
import logging

from weakseg.cli._case_args import add_case_arguments, case_from_args

log = logging.getLogger("weakseg")

_BRATS_NAMES = {"flair": "flair", "t1": "t1", "t1c": "t1ce", "t2": "t2"}


def register(sub) -> None:
    parser = sub.add_parser("preprocess", help="check a case and make it fit for a model (register, 1 mm, skull-strip)",
                            description="Checks the case against the model card's expected input, runs the steps that "
                                        "make it fit, and writes the prepared sequences with figures to inspect.")
    add_case_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder (becomes a case folder)")
    parser.add_argument("--model", default="default", help="model whose expected input is checked (default: shipped)")
    parser.add_argument("--mode", choices=["auto", "force"], default="force",
                        help="force (default): run every step; auto: only the steps the checks ask for")
    parser.add_argument("--n4", action="store_true", help="also correct the bias field (N4)")
    parser.add_argument("--case-id", metavar="ID", help="file name stem (default: the case id)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import SimpleITK as sitk

    from weakseg.clinical import ClinicalConfig, Expects, describe, prepare
    from weakseg.clinical.figures import before_after, checkerboard, write_png
    from weakseg.clinical.grid import resample_onto
    from weakseg.io.output_set import OutputSet
    from weakseg.io.validate import safe_name
    from weakseg.models import load_model

    from pathlib import Path

    from weakseg.io.output_set import check_destination

    case = case_from_args(args)
    stem = safe_name(args.case_id or case.case_id, "case id")
    inputs = [p for p in case.sources.values()]
    check_destination([Path(args.out) / f"{stem}_preprocess.json"], inputs=inputs, case_dirs=[args.case],
                      what="preprocess output")  # before the heavy work
    card = load_model(args.model).card
    prepared = prepare(case, Expects.from_card(card), ClinicalConfig(mode=args.mode, n4=args.n4))
    if prepared is None:
        log.warning("%s: already fit for model %s; nothing to do (use --mode force to run every step)", stem, card.id)
        return 0
    log.warning(describe(prepared))
    files = {name: f"{stem}_{_BRATS_NAMES[name]}.nii.gz" for name in prepared.case.images}
    files.update({"report": f"{stem}_preprocess.json", "before_after": f"{stem}_before_after.png"})
    files.update({f"reg_{name}": f"{stem}_registration_{name}.png" for name in prepared.registrations})
    if prepared.brain_mask is not None:
        files["mask"] = f"{stem}_brainmask.nii.gz"
    outputs = OutputSet(files, out_dir=args.out, inputs=inputs, case_dirs=[args.case], what="preprocess output")
    grid = prepared.case.grid
    with outputs:
        for name, image in prepared.case.images.items():
            sitk.WriteImage(image, str(outputs.path(name)), True)
            if f"reg_{name}" in files:
                write_png(checkerboard(prepared.case.images[case.reference], image), outputs.path(f"reg_{name}"))
        if prepared.brain_mask is not None:
            sitk.WriteImage(prepared.brain_mask, str(outputs.path("mask")), True)
        before = resample_onto(case.originals[case.reference], grid)
        write_png(before_after(before, grid, prepared.brain_mask), outputs.path("before_after"))
        report = {"case": stem, "model": card.id, "expects": Expects.from_card(card).to_dict(), **prepared.provenance()}
        outputs.path("report").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not args.quiet:
        for kind in files:
            print(f"{kind:<14} {outputs.final[kind]}")
    return 0
