"""``weakseg export-seg``: labels → DICOM SEG of the original series (highdicom)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from weakseg.cli.export_rtstruct import add_export_arguments, config_from_args

log = logging.getLogger("weakseg")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export-seg", help="write labels as a DICOM Segmentation (SEG)",
                            description="Write labels as a binary DICOM SEG that references the original image series.")
    add_export_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from weakseg.rt import export_seg
    from weakseg.rt.segments import read_names_json

    names = read_names_json(args.names_json) if args.names_json else None
    out = export_seg(Path(args.labels), names, Path(args.reference), Path(args.out), config_from_args(args))
    log.info("wrote %s", out)
    return 0
