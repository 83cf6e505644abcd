"""``weakseg import-rtstruct``: RT Structure Set → one mask per ROI (and partial labels in a case's store)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


log = logging.getLogger("weakseg")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("import-rtstruct", help="read an RTSTRUCT into per-ROI masks and weak labels",
                            description="Rasterise every ROI of an RT Structure Set onto its reference series. ROI names "
                                        "map to classes through an editable table; with --store, mapped ROIs become full "
                                        "labels and every other class stays unknown (not absent).")
    parser.add_argument("rtstruct", metavar="FILE", help="RT Structure Set (.dcm)")
    parser.add_argument("--reference", required=True, metavar="DIR", help="folder holding the referenced image series")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for <ROI>.nrrd masks and rois.json")
    parser.add_argument("--store", metavar="CASE_DIR", help="also write the masks into this case's weak-label store")
    parser.add_argument("--roi-table", metavar="CSV", help="ROI name → class table (default: the bundled TG-263 table)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from weakseg.rt.roi_table import load_roi_table
    from weakseg.rt.rtstruct_read import import_rtstruct

    from weakseg.io.output_set import check_destination

    check_destination([Path(args.out) / "rois.json"], inputs=[args.rtstruct, args.roi_table], what="import output")
    table = load_roi_table(args.roi_table) if args.roi_table else None
    summary = import_rtstruct(Path(args.rtstruct), Path(args.reference), Path(args.out), args.store, table)
    for roi in summary["rois"]:
        log.info("%-24s → %-16s %8d voxels  %s", roi["name"], roi["class"] or "(unmapped)", roi["voxels"], roi["file"])
    if "store" in summary:
        log.info("weak labels: %d classes present, the rest unknown → %s", len(summary["present_classes"]), summary["store"])
    return 0
