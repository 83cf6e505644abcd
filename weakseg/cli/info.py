"""``weakseg info``: what a case holds — sequences, geometry, labels and their volumes."""

from __future__ import annotations

import argparse
import json

import numpy as np
import SimpleITK as sitk

from weakseg import brats
from weakseg.cli._case_args import add_case_arguments, case_from_args
from weakseg.io.case import Case
from weakseg.io.image import orientation_code


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("info", help="show sequences, geometry and label volumes of a case",
                            description="Show a case's sequences, geometry and label volumes (ml).")
    add_case_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--series", action="store_true",
                        help="for a DICOM folder: list its series and the sequence each is assigned to, then stop")
    parser.set_defaults(func=run)


def describe(case: Case) -> dict:
    grid = case.grid
    voxel_ml = float(np.prod(grid.GetSpacing())) / 1000.0
    out = {
        "case": case.case_id,
        "reference": case.reference,
        "sequences": {name: {"file": str(case.sources.get(name, "")), "type": img.GetPixelIDTypeAsString()}
                      for name, img in case.images.items()},
        "missing": case.missing,
        "size": list(grid.GetSize()),
        "spacing_mm": [round(s, 4) for s in grid.GetSpacing()],
        "origin_mm": [round(o, 3) for o in grid.GetOrigin()],
        "orientation": orientation_code(grid),
        "warnings": case.warnings,
    }
    if case.labels is not None:
        arr = sitk.GetArrayViewFromImage(case.labels)
        values, counts = np.unique(arr, return_counts=True)
        out["labels"] = {int(v): round(float(c) * voxel_ml, 3) for v, c in zip(values, counts) if v != 0}
        try:
            conv = brats.detect_convention(np.asarray(arr))
            out["label_convention"] = conv.name
            out["regions_ml"] = {k: round(float(m.sum()) * voxel_ml, 3) for k, m in brats.regions(np.asarray(arr), conv).items()}
        except ValueError:
            pass
    return out


def describe_series(folder: str) -> list[dict]:
    """The series of a DICOM folder and the sequence each would be loaded as."""
    from weakseg.io.dicom import assign_sequences, describe_assignment, list_series

    series = list_series(folder)
    chosen, _ = assign_sequences(series)
    assigned = {id(v): k for k, v in chosen.items()}
    guesses = describe_assignment(series)
    rows = []
    for s in series:
        guess = guesses.get(s.uid)
        rows.append({"uid": s.uid, "number": s.series_number, "description": s.description, "modality": s.modality,
                     "files": s.n_files, "sequence": assigned.get(id(s)),
                     "reads_as": guess.sequence if guess else None,
                     "confidence": round(guess.confidence, 2) if guess else None,
                     "why": guess.reason() if guess else "not an MR volume"})
    return rows


def run(args: argparse.Namespace) -> int:
    if args.series:
        if not args.case:
            raise SystemExit("weakseg: error: --series needs a DICOM folder")
        rows = describe_series(args.case)
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        for row in rows:
            print(f"{row['number'] if row['number'] is not None else '-':>4}  {row['sequence'] or '-':<6} {row['modality']:<8} "
                  f"{row['files']:>5} files  {row['description'] or '(no description)'}  {row['uid']}  [{row['why']}]")
        return 0
    info = describe(case_from_args(args))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"case         {info['case']}")
    for name, seq in info["sequences"].items():
        ref = " (reference)" if name == info["reference"] else ""
        print(f"  {name:<6} {seq['type']:<24} {seq['file']}{ref}")
    if info["missing"]:
        print(f"missing      {', '.join(info['missing'])}")
    print(f"size         {' x '.join(map(str, info['size']))} voxels")
    print(f"spacing      {' x '.join(f'{s:g}' for s in info['spacing_mm'])} mm")
    print(f"origin       {', '.join(f'{o:g}' for o in info['origin_mm'])} mm (LPS)")
    print(f"orientation  {info['orientation']}")
    if "labels" in info:
        conv = info.get("label_convention", "unknown convention")
        print(f"labels       ({conv})")
        for value, ml in info["labels"].items():
            print(f"  label {value:<4} {ml:10.2f} ml")
        for region, ml in info.get("regions_ml", {}).items():
            print(f"  {region:<10} {ml:10.2f} ml")
    return 0
