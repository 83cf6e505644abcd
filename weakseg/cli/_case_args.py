"""Arguments shared by every command that reads a case."""

from __future__ import annotations

import argparse

from weakseg import SEQUENCES
from weakseg.io import Case, load_case


def add_case_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", nargs="?", help="case folder (BraTS 2018/2021 naming) or DICOM folder")
    for name in SEQUENCES:
        parser.add_argument(f"--{name}", metavar="PATH", help=f"{name.upper()} image (overrides the folder); for a DICOM "
                            "folder also a SeriesInstanceUID or SeriesDescription")
    parser.add_argument("--labels", metavar="PATH", help="label image (overrides *_seg in the folder)")
    parser.add_argument("--reference", default="flair", choices=SEQUENCES, help="grid every sequence is put on (default flair)")


def case_from_args(args: argparse.Namespace) -> Case:
    explicit = {name: getattr(args, name) for name in SEQUENCES if getattr(args, name, None)}
    if not args.case and not explicit:
        raise SystemExit("weakseg: error: give a case folder or at least one sequence (--flair PATH ...)")
    return load_case(args.case, sequences=explicit or None, labels=args.labels, reference=args.reference)
