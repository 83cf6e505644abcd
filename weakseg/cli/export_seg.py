"""``weakseg export-seg``: labels → DICOM SEG of the original series (highdicom)."""

from __future__ import annotations

import argparse
import logging

from weakseg.cli.export_rtstruct import add_export_arguments, export_with

log = logging.getLogger("weakseg")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export-seg", help="write labels as a DICOM Segmentation (SEG)",
                            description="Write labels as a binary DICOM SEG that references the original image series.")
    add_export_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from weakseg.rt import export_seg

    return export_with(export_seg, args)
