"""Arguments shared by every command that reads a case."""

from __future__ import annotations

import argparse

from weakseg import SEQUENCES
from weakseg.errors import WeakSegError
from weakseg.io import Case, load_case


def add_case_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", nargs="?", help="case folder (BraTS 2018/2021 naming), DICOM folder, DICOMDIR or zip")
    for name in SEQUENCES:
        parser.add_argument(f"--{name}", metavar="PATH", help=f"{name.upper()} image or DICOM series folder (overrides the "
                            "case); for a DICOM case also a SeriesInstanceUID or SeriesDescription")
    parser.add_argument("--labels", metavar="PATH", help="label image (overrides *_seg in the folder)")
    parser.add_argument("--reference", default="flair", choices=SEQUENCES, help="grid every sequence is put on (default flair)")
    parser.add_argument("--allow-mixed-studies", action="store_true",
                        help="combine DICOM series of one patient from different studies (recorded as a warning); "
                             "series of different patients are always refused")


def case_from_args(args: argparse.Namespace, log_warnings: bool = True) -> Case:
    """The case the arguments name; ``log_warnings=False`` keeps its warnings (``case.warnings``) for a
    caller that may still refuse it in one line."""
    explicit = {name: getattr(args, name) for name in SEQUENCES if getattr(args, name, None)}
    if not args.case and not explicit:
        raise WeakSegError("give a case folder or at least one sequence (--flair PATH ...)")
    return load_case(args.case, sequences=explicit or None, labels=args.labels, reference=args.reference,
                     allow_mixed_studies=getattr(args, "allow_mixed_studies", False), case_id=getattr(args, "case_id", None),
                     log_warnings=log_warnings)
