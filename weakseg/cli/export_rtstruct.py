"""``weakseg export-rtstruct``: labels → RT Structure Set referencing the original DICOM series."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

# pydicom/highdicom are imported inside the functions that need them, so that every other
# `weakseg` command starts without them.

log = logging.getLogger("weakseg")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared with ``export-seg``."""
    parser.add_argument("--labels", required=True, metavar="PATH",
                        help="multi-label image (.nii.gz, .nrrd) or Slicer .seg.nrrd, on or inside the reference grid")
    parser.add_argument("--reference", required=True, metavar="DIR", help="folder with the original DICOM image series")
    parser.add_argument("--out", required=True, metavar="FILE.dcm", help="output DICOM file")
    parser.add_argument("--names-json", metavar="PATH",
                        help='label value → ROI name or {"name", "colour", "type", "code"} (default: BraTS sub-regions)')
    parser.add_argument("--model-name", default="WeakSeg", help="algorithm name written into the file")
    parser.add_argument("--model-version", default=None, help="algorithm version (default: weakseg version)")
    parser.add_argument("--flagged", choices=("keep", "drop", "mark"), default="mark",
                        help="slices the model flagged as untrustworthy (the slice table's 'flagged' column, e.g. the "
                             "gan-seeds difference score): keep them, drop them from the structures, or keep them and "
                             "mark the structure set 'needs review' (default)")
    parser.add_argument("--slice-table", metavar="CSV",
                        help="the segment command's *_slices.csv (default: the one beside a *_labels.nii.gz)")
    parser.add_argument("--patient-id", metavar="ID",
                        help="confirm the reference series' PatientID; needed when the labels carry no DICOM identity "
                             "(no provenance from a DICOM case beside them) and are not on the series' own voxel grid")


def config_from_args(args: argparse.Namespace, series_description: str | None = None):
    from weakseg.rt import RtExportConfig
    from weakseg.rt.contours import ContourConfig

    base = RtExportConfig()
    return RtExportConfig(
        series_description=series_description or base.series_description,
        model_name=args.model_name,
        model_version=args.model_version or base.model_version,
        contours=ContourConfig(min_area_mm2=getattr(args, "min_area_mm2", base.contours.min_area_mm2),
                               tolerance_mm=getattr(args, "tolerance_mm", base.contours.tolerance_mm)),
    )


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export-rtstruct", help="write labels as a DICOM RT Structure Set",
                            description="Write labels as an RT Structure Set that references the original image series "
                                        "(no image is re-exported).")
    add_export_arguments(parser)
    parser.add_argument("--min-area-mm2", type=float, default=1.0, help="drop islands and holes smaller than this (default 1)")
    parser.add_argument("--tolerance-mm", type=float, default=0.5,
                        help="point-reduction tolerance, capped at 0.3 pixel (default 0.5)")
    parser.set_defaults(func=run)


def export_with(writer, args: argparse.Namespace) -> int:
    """Check the destination, then the reference's identity, then write (shared with ``export-seg``)."""
    from weakseg.io.output_set import check_destination
    from weakseg.rt.reference import ExpectedIdentity, provenance_identity
    from weakseg.rt.segments import read_names_json

    labels, out = Path(args.labels), Path(args.out)
    table = slice_table_path(args)
    check_destination([out], inputs=[labels, args.names_json, table], what="output DICOM file")
    names = read_names_json(args.names_json) if args.names_json else None
    expected = ExpectedIdentity(case=provenance_identity(labels), patient_id=args.patient_id)
    source, description = apply_flags(args.flagged, labels, table)
    path = writer(source, names, Path(args.reference), out, config_from_args(args, description), expected=expected)
    log.info("wrote %s", path)
    return 0


def slice_table_path(args: argparse.Namespace) -> Path | None:
    """The slice table to read flags from: given, or the segment command's one beside its labels file."""
    if args.slice_table:
        return Path(args.slice_table)
    name = Path(args.labels).name
    if name.endswith("_labels.nii.gz"):
        beside = Path(args.labels).with_name(name[: -len("_labels.nii.gz")] + "_slices.csv")
        return beside if beside.is_file() else None
    return None


def apply_flags(flagged: str, labels: Path, table: Path | None):
    """(labels to export, series description or None) for ``--flagged keep|drop|mark`` (``flags_for_export``)."""
    if table is None or flagged == "keep":
        return labels, None
    from weakseg.methods.gan_seeds.review import flags_for_export, read_slice_table, review_note

    rows = read_slice_table(table)
    note = review_note(rows)
    if note["needs_review"]:
        log.warning("%s: %s", table, note["text"])
    return flags_for_export(flagged, labels, rows)


def run(args: argparse.Namespace) -> int:
    from weakseg.rt import export_rtstruct

    return export_with(export_rtstruct, args)
