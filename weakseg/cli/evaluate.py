"""``weakseg evaluate``: score predicted label maps against the truth and write a metrics table."""

from __future__ import annotations

import argparse

from weakseg.errors import WeakSegError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate", help="prediction vs truth → per-case metrics table (CSV/JSON) and summary",
        description="Score predicted label maps against the truth: Dice, HD95 (mm), sensitivity, precision, "
                    "volume difference and paper 002's smoothed slice Dice, per BraTS region (WT/TC/ET, either "
                    "label convention) or per label. Give two files, or two folders paired by case id.")
    parser.add_argument("--pred", required=True, metavar="PATH", help="predicted label file, or a folder of them")
    parser.add_argument("--truth", required=True, metavar="PATH",
                        help="true label file, a folder of them, or a folder of BraTS case folders (*_seg)")
    parser.add_argument("--out", required=True, metavar="CSV", help="per-case metrics table with summary rows")
    parser.add_argument("--json", metavar="PATH", help="also write the table and summary as JSON")
    parser.add_argument("--kind", choices=("brats", "labels"), default="brats",
                        help="brats: WT/TC/ET regions (default); labels: one row per label value")
    parser.add_argument("--label-names", metavar="V=NAME,...",
                        help="with --kind labels: which values to score and their names, e.g. 1=brainstem,2=chiasm")
    parser.add_argument("--hd-empty", choices=("inf", "diagonal"), default="inf",
                        help="HD of a region present in only one mask: inf, left out of means and counted (default), "
                             "or the volume diagonal in mm (BraTS's ranking penalty, 373.13 mm at 240x240x155)")
    parser.set_defaults(func=run)


def parse_label_names(text: str | None) -> dict[int, str] | None:
    if not text:
        return None
    names: dict[int, str] = {}
    for item in text.split(","):
        value, sep, name = item.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit() or not name.strip():
            raise WeakSegError(f"--label-names: expected VALUE=NAME, got '{item}'")
        names[int(value)] = name.strip()
    return names


def run(args: argparse.Namespace) -> int:
    # Imported here: scipy.stats and friends would slow every other command's start-up.
    from weakseg.io.image import read_image
    from weakseg.io.output_set import OutputSet
    from weakseg.metrics import MetricsConfig, case_rows, evaluate_case, format_summary, pair, write_tables

    names = parse_label_names(args.label_names)
    if names and args.kind != "labels":
        raise WeakSegError("--label-names needs --kind labels")
    config = MetricsConfig(hd_empty=args.hd_empty)
    pairs = pair(args.pred, args.truth)
    files = {"table": args.out, **({"json": args.json} if args.json else {})}
    inputs = [args.pred, args.truth, *(p for _, p, _ in pairs), *(t for _, _, t in pairs)]
    outputs = OutputSet(files, inputs=inputs, what="metrics table")  # checked before any scoring
    rows = []
    for case, pred_path, truth_path in pairs:
        pred, truth = read_image(pred_path), read_image(truth_path)
        per_region = evaluate_case(pred, truth, args.kind, names, config=config, pred_path=pred_path, truth_path=truth_path)
        rows.extend(case_rows(case, per_region))
    meta = {"kind": args.kind, "hd_empty": args.hd_empty,
            "definitions": {"hd95_mm": "95th percentile of the pooled symmetric surface distances",
                            "slice_dice": "mean smoothed Dice (2|P&T|+1)/(|P|+|T|+1) over axial slices (paper 002)",
                            "empty": "both empty: Dice 1, HD 0; one empty: Dice 0, HD inf (or the diagonal)"},
            "pairs": [
        {"case": c, "pred": str(p), "truth": str(t)} for c, p, t in pairs]}
    with outputs:
        summary = write_tables(rows, outputs.path("table"), outputs.path("json") if args.json else None, meta)
    if not args.quiet:
        print(f"{len(pairs)} case(s) scored; table written to {args.out}" + (f" and {args.json}" if args.json else ""))
        print(format_summary(summary))
    return 0
