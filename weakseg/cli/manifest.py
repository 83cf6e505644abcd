"""``weakseg manifest``: list a dataset's cases, label kinds, folds and file hashes; check a dataset against it."""

from __future__ import annotations

import argparse

from weakseg.labels.manifest import build_manifest, load_manifest, write_manifest


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("manifest", help="create or verify a dataset manifest",
                            description="A dataset manifest lists cases, their label kinds and status, reproducible "
                                        "k-fold splits, and the SHA-256 of every file.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="scan a dataset folder and write its manifest",
                                description="Scan DATA_DIR for cases and write a manifest with k folds from a seed.")
    create.add_argument("data_dir", metavar="DATA_DIR")
    create.add_argument("--out", required=True, metavar="FILE", help="manifest JSON to write")
    create.add_argument("--folds", type=int, default=5, help="number of cross-validation folds (default 5)")
    create.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    create.set_defaults(func=run_create)
    verify = actions.add_parser("verify", help="re-hash a dataset's files against its manifest",
                                description="Report files changed, missing or added since the manifest was made; "
                                            "exit 1 when any listed file changed or is missing.")
    verify.add_argument("manifest", metavar="FILE")
    verify.add_argument("--root", metavar="DIR", help="dataset folder, if it moved")
    verify.set_defaults(func=run_verify)


def run_create(args: argparse.Namespace) -> int:
    from pathlib import Path

    from weakseg.io.output_set import check_destination

    check_destination([Path(args.out)], what="manifest")  # before hashing the whole dataset
    manifest = build_manifest(args.data_dir, args.folds, args.seed)
    path = write_manifest(manifest, args.out)
    sizes = ", ".join(str(len(f)) for f in manifest.folds)
    print(f"{path}: {len(manifest.cases)} cases, {len(manifest.folds)} folds ({sizes}), seed {manifest.seed}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.manifest, root=args.root)
    check = manifest.verify()
    for label, files in (("changed", check.changed), ("missing", check.missing), ("added", check.added)):
        for name in files:
            print(f"{label:<8} {name}")
    n_files = sum(len(c.files) for c in manifest.cases)
    print(f"{n_files} files checked: {len(check.changed)} changed, {len(check.missing)} missing, {len(check.added)} added")
    return 0 if check.ok else 1
