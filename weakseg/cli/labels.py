"""``weakseg labels``: show, edit and derive a case's weak labels (the sidecar in ``<case>/weaklabels``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from weakseg.cli._case_args import add_case_arguments, case_from_args
from weakseg.errors import WeakSegError
from weakseg.io.validate import label_name
from weakseg.labels import AXES, KINDS, STATUSES, WeakLabelStore
from weakseg.labels.schema import SIDECAR_JSON


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("labels", help="show, edit or derive a case's weak labels",
                            description="Show, edit or derive the weak labels (slice labels, scribbles, regions, "
                                        "full masks) stored beside a case.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="summarise the weak labels of a case",
                              description="Summarise a case's weak labels: classes, kinds, slice ranges, status.")
    show.add_argument("case", help="case folder")
    show.add_argument("--sidecar", metavar="DIR", help="weak-label folder (default CASE/weaklabels)")
    show.add_argument("--json", action="store_true", help="print machine-readable JSON")
    show.set_defaults(func=run_show)

    status = actions.add_parser("status", help="set the annotation status and annotator",
                                description="Set a case's annotation status (and annotator).")
    status.add_argument("case", help="case folder")
    status.add_argument("status", choices=STATUSES)
    status.add_argument("--annotator", type=_class_name, help="who annotated or reviewed the case")
    status.add_argument("--sidecar", metavar="DIR", help="weak-label folder (default CASE/weaklabels)")
    status.set_defaults(func=run_status)

    rng = actions.add_parser("set-range", help="mark a slice range present for a class (the rest absent)",
                             description="Slices FIRST..LAST (inclusive, 0-based) present for CLASS, others absent.")
    rng.add_argument("case", help="case folder")
    rng.add_argument("first", type=_non_negative)
    rng.add_argument("last", type=_non_negative)
    rng.add_argument("--class", dest="cls", required=True, type=_class_name, help="class name, e.g. WT")
    rng.add_argument("--axis", choices=AXES, default="axial")
    rng.add_argument("--margin", type=_non_negative, default=0, help="slices each side of a boundary marked unknown")
    rng.add_argument("--sidecar", metavar="DIR", help="weak-label folder (default CASE/weaklabels)")
    rng.set_defaults(func=run_set_range)

    derive = actions.add_parser("derive", help="derive weak labels from a case's full labels (experiments)",
                                description="Make weak labels from full labels as the papers did: slice labels "
                                            "(optionally after per-slice erosion, paper 002), simulated scribbles, "
                                            "EMReDL regions, or full masks.")
    add_case_arguments(derive)
    derive.add_argument("--kind", action="append", choices=KINDS, help="label kind to derive (repeatable; default slices)")
    derive.add_argument("--erode", type=_non_negative, default=0, metavar="N",
                        help="erode each slice N times with a 3x3 square before slice labels (paper 002: 1)")
    derive.add_argument("--erode-mm", type=float, metavar="MM", help="or erode each slice by a disk of MM mm")
    derive.add_argument("--min-voxels", type=_non_negative, default=1, help="voxels a slice needs to count as present")
    derive.add_argument("--axis", choices=AXES, default="axial")
    derive.add_argument("--seed", type=int, default=0, help="seed of the simulated scribbles")
    derive.add_argument("--out", metavar="DIR", required=True,
                        help="weak-label folder to write (CASE/weaklabels holds an annotator's labels)")
    derive.set_defaults(func=run_derive)


def _class_name(text: str) -> str:
    try:
        return label_name(text, "name")
    except WeakSegError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _open(args: argparse.Namespace, create: bool) -> WeakLabelStore:
    return WeakLabelStore.open(Path(args.case), sidecar=args.sidecar, create=create)


def _edit(args: argparse.Namespace, create: bool, owner: str | None = None):
    """The case's store under its lock (saved on leaving the block): concurrent editors never lose a save."""
    return WeakLabelStore.edit(Path(args.case), sidecar=args.sidecar, create=create, owner=owner)


def run_show(args: argparse.Namespace) -> int:
    info = _open(args, create=False).summary()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"case       {info['case']}  ({info['sidecar']})")
    print(f"status     {info['status']}" + (f"  by {info['annotator']}" if info["annotator"] else ""))
    print(f"modified   {info['modified']}")
    print(f"grid       {' x '.join(map(str, info['grid']['size']))} voxels")
    print(f"classes    {', '.join(info['classes']) or 'none'}")
    print(f"kinds      {', '.join(info['kinds']) or 'none'}")
    for axis, per_class in info["slices"].items():
        for cls, item in per_class.items():
            ranges = ", ".join(f"{a}-{b}" for a, b in item["ranges"]) or "none"
            c = item["counts"]
            print(f"  slices {axis:<8} {cls:<12} present {ranges}  ({c['present']} present, {c['absent']} absent, "
                  f"{c['unknown']} unknown)")
    for cls, item in info["scribbles"].items():
        print(f"  scribbles {cls:<12} {item['foreground_voxels']} foreground, {item['background_voxels']} background voxels")
    for roi, ml in info.get("regions_ml", {}).items():
        print(f"  region {roi:<5} {ml:10.2f} ml")
    for cls, ml in info["full_ml"].items():
        print(f"  full {cls:<12} {ml:10.2f} ml")
    for kind, text in info["provenance"].items():
        print(f"  ({kind}: {text})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    with _edit(args, create=False, owner=args.annotator) as store:
        store.status = args.status
        if args.annotator:
            store.annotator = args.annotator
    print(store.path)
    return 0


def run_set_range(args: argparse.Namespace) -> int:
    with _edit(args, create=True) as store:
        n = store.grid.n_slices(args.axis)
        if not 0 <= args.first <= args.last < n:
            raise WeakSegError(f"{args.axis} slice range {args.first}-{args.last} is outside 0-{n - 1} or reversed "
                               f"(case {store.case_id})", store.path)
        store.set_slice_range(args.cls, args.axis, args.first, args.last, margin=args.margin)
    print(store.path)
    return 0


def run_derive(args: argparse.Namespace) -> int:
    from weakseg.io.output_set import check_destination
    from weakseg.labels.derive import DeriveConfig, ScribbleConfig, derive_case

    out = Path(args.out)
    check_destination([out / SIDECAR_JSON], inputs=[args.labels], case_dirs=[args.case], what="derived weak labels")
    if WeakLabelStore.exists(out, sidecar=out):
        _refuse_annotated(WeakLabelStore.open(out, sidecar=out, create=False))
    case = case_from_args(args)
    config = DeriveConfig(axis=args.axis, erode_iterations=args.erode, erode_mm=args.erode_mm,
                          min_voxels=args.min_voxels, scribbles=ScribbleConfig(), seed=args.seed)
    store = derive_case(case, args.kind or ["slices"], sidecar=out, config=config)
    _refuse_annotated(store)  # as opened by derive_case: save() refuses if it changed since
    print(store.save())
    return 0


def _refuse_annotated(store: WeakLabelStore) -> None:
    """Derived labels never replace an annotator's: refuse a sidecar someone completed, reviewed or signed."""
    if store.annotator or store.status in ("complete", "reviewed"):
        who = f" by {store.annotator}" if store.annotator else ""
        raise WeakSegError(f"holds an annotator's weak labels (status {store.status}{who}); derived labels never "
                           "replace them: choose another --out", store.path)
