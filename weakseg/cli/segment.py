"""``weakseg segment CASE --model default --out DIR``: segment one case and say where each file went."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from weakseg import SEQUENCES

from weakseg.cli._case_args import add_case_arguments, case_from_args
from weakseg.errors import WeakSegError
from weakseg.io.validate import arg_type
from weakseg.worker.job_segment import SegmentParameters, output_stem


def register(sub) -> None:
    parser = sub.add_parser("segment", help="segment a case with a trained model (default: the shipped tumour model)",
                            description="Writes a labelmap NIfTI on the case's grid, a .seg.nrrd for Slicer, a per-slice "
                                        "probability CSV, a PNG overlay montage and a provenance JSON.")
    add_case_arguments(parser)
    parser.add_argument("--model", default="default", help="model id or folder (default: the shipped tumour model)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                        help="auto uses CUDA when available, else CPU; MPS only when asked")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="average with the left-right mirrored prediction (default: as the model card says)")
    parser.add_argument("--batch-size", type=arg_type(SegmentParameters, "batch_size"),
                        help="slices per forward pass (default: from free memory)")
    parser.add_argument("--threads", type=arg_type(SegmentParameters, "threads"), help="CPU threads for torch")
    parser.add_argument("--min-component", type=arg_type(SegmentParameters, "min_component"), metavar="FRACTION",
                        help="drop lesion components smaller than FRACTION of the largest (default: the model card's)")
    parser.add_argument("--prefix", type=arg_type(SegmentParameters, "prefix"),
                        help="file name prefix (default: the case id)")
    parser.add_argument("--case-id", type=arg_type(SegmentParameters, "case_id"), metavar="ID",
                        help="case id for file names and provenance instead of the input folder's name (which may "
                             "be a patient's name); source paths are then left out of the provenance")
    parser.add_argument("--progress", action="store_true", help="print progress events as JSON lines to stderr")
    parser.add_argument("--preprocess", choices=["auto", "none", "force"], default="auto",
                        help="auto (default): check the case against the model card's expected input and, when it "
                             "differs (thick slices, skull present, sequences not co-registered), register, resample to "
                             "1 mm and skull-strip it, then bring the labels back onto the reference series; none: "
                             "refuse an unfit case; force: always run every step")
    parser.add_argument("--n4", action="store_true", help="also correct the bias field (N4) when preprocessing")
    if _rt_available():
        parser.add_argument("--rtstruct", metavar="REFERENCE_SERIES",
                            help="also write an RT Structure Set referencing this DICOM series (folder, DICOMDIR or zip; "
                                 "a study folder works when it holds the segmented series); checked before segmenting")
        parser.add_argument("--patient-id", metavar="ID",
                            help="confirm the reference series' PatientID when the case itself is not DICOM")
    parser.set_defaults(func=run)


def _rt_available() -> bool:
    """Whether weakseg.rt is installed, without importing it (pydicom/highdicom cost a second)."""
    import importlib.util

    return importlib.util.find_spec("weakseg.rt") is not None


def run(args: argparse.Namespace) -> int:
    import json

    from weakseg.inference import InferenceConfig, write_outputs
    from weakseg.inference.outputs import segment_outputs
    from weakseg.models.family import model_for_case

    progress = None
    if args.progress:
        progress = lambda event: print(json.dumps(event), file=sys.stderr, flush=True)  # noqa: E731
    if not args.case and not any(getattr(args, name, None) for name in SEQUENCES):
        raise WeakSegError("give a case folder or at least one sequence (--flair PATH ...)")
    case = case_from_args(args, log_warnings=False)  # logged once the case is known to be segmentable
    rtstruct = getattr(args, "rtstruct", None)
    reference = _rt_reference(rtstruct, case, args) if rtstruct else None
    outputs = segment_outputs(args.out, output_stem(args.prefix, args.case_id, case.case_id), case,
                              rtstruct=bool(rtstruct), inputs=[args.labels, rtstruct],
                              case_dirs=[args.case, rtstruct])
    config = InferenceConfig(device=args.device, tta=args.tta, batch_size=args.batch_size, threads=args.threads,
                             min_component_fraction=args.min_component)
    import logging

    from weakseg.clinical import segment_checked

    model, fallback = model_for_case(args.model, case.images)
    case.require(model.card.sequences)
    for line in [*case.warnings_for(model.card.sequences), fallback]:
        if line:
            logging.getLogger("weakseg").warning(line)

    result, _ = segment_checked(case, model, config, mode=args.preprocess, n4=args.n4, progress=progress,
                                case_id=args.case_id, notify=logging.getLogger("weakseg").warning)
    for line in result.warnings:  # about the output itself (e.g. an organ not found): before the paths
        logging.getLogger("weakseg").warning(line)
    with outputs:
        paths = write_outputs(result, outputs, case)
        if rtstruct:
            from weakseg.rt import export_rtstruct

            _export_rt(export_rtstruct, result, reference, outputs.path("rtstruct"))
    if not args.quiet:
        seconds = result.provenance["seconds"]["total"]
        print(f"case         {args.case_id or case.case_id}  (model {model.id}, {result.provenance['device']}, {seconds:.1f} s)")
        for kind, path in paths.items():
            print(f"{kind:<12} {path}")
    return 0


def _rt_reference(folder: str, case, args):
    """Read and check the RTSTRUCT reference before any heavy work: right patient, right frame, on the case's grid."""
    from weakseg.rt.reference import ExpectedIdentity, verify_reference
    from weakseg.rt.series import read_reference_series

    series = read_reference_series(folder, prefer_series_uid=case.series_uids.get(case.reference))
    expected = ExpectedIdentity(case=case.identity, patient_id=getattr(args, "patient_id", None))
    verify_reference(series, case.grid, expected, folder)
    return series, expected


def _export_rt(export_rtstruct, result, reference, out: Path) -> Path:
    """Call weakseg.rt's exporter with the labelmap and the segment names/colours."""
    names = {e.value: {"name": e.name, "colour": [int(round(255 * c)) for c in e.color],
                       **({"code": [e.snomed_code, e.snomed_meaning]} if e.snomed_code else {})}
             for e in result.label_entries}
    from weakseg.rt.rtstruct_write import RtExportConfig

    config = RtExportConfig(model_name=result.provenance["model_id"], model_version=result.provenance["model_version"])
    series, expected = reference
    return export_rtstruct(result.labels, names, series, out, config, expected=expected)
