"""``weakseg phantom``: write a synthetic case (tumour brain or head with organs at risk).

The case is built in a hidden folder beside ``--out`` and renamed into place, so a crash
or Ctrl-C never leaves a half-written case under the final name.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from weakseg.errors import WeakSegError
from weakseg.phantom import SIZES, PhantomConfig, make_head_case, make_tumour_case, write_case_files
from weakseg.phantom.config import TEMPLATES
from weakseg.phantom.writer import NAMINGS


def _safe_case_id(text: str) -> str:
    from weakseg.io.validate import safe_name

    try:
        return safe_name(text, "case id")
    except WeakSegError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "phantom", help="write a synthetic case (tumour brain or head with organs at risk)",
        description="Write a synthetic case, deterministic from --seed: a skull-stripped brain with a tumour "
                    "(T1, T1c, T2, FLAIR and BraTS labels; optionally infiltration and physiological maps), or a "
                    "head with organs at risk (T1, T2, OAR labelmap and its label table).")
    parser.add_argument("--out", required=True, metavar="DIR", help="case folder to create")
    parser.add_argument("--kind", choices=("tumour", "head"), default="tumour", help="what to synthesise (default tumour)")
    parser.add_argument("--size", choices=tuple(SIZES), default="brats",
                        help="grid: tiny 48x48x32 (5 mm), small 120x120x78 (2 mm), brats 240x240x155 (1 mm; default)")
    parser.add_argument("--template", choices=TEMPLATES, default="none",
                        help="anatomy of a tumour case: procedural (none, default) or nilearn's MNI152 brain")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same voxels")
    parser.add_argument("--naming", choices=tuple(NAMINGS), default="brats2018", help="file naming (default brats2018)")
    parser.add_argument("--case-id", metavar="ID", type=_safe_case_id, help="file name prefix (default Phantom_<seed> / HeadPhantom_<seed>)")
    parser.add_argument("--physiology", action="store_true",
                        help="also write rCBV, MTT, rCBF, FA, MD, p, q and the infiltration ground truth (tumour only)")
    parser.add_argument("--force", action="store_true", help="replace an existing non-empty case folder")
    parser.set_defaults(func=run)


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise WeakSegError("exists and is not a folder", out)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise WeakSegError("folder exists and is not empty; use --force to replace it", out)


def _move_into_place(staging: Path, out: Path) -> None:
    """Rename the finished staging folder to ``out``, replacing what is there."""
    if not out.exists():
        os.replace(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.replace(out, old / out.name)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def run(args: argparse.Namespace) -> int:
    out = Path(args.out).absolute()
    _check_target(out, args.force)
    if args.kind == "head" and (args.template != "none" or args.physiology):
        raise WeakSegError("--template and --physiology apply to tumour phantoms only, not --kind head")
    config = PhantomConfig.preset(args.size, seed=args.seed, template=args.template, case_id=args.case_id,
                                  physiology=args.physiology)
    phantom = make_head_case(config) if args.kind == "head" else make_tumour_case(config)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the case folder should not be
    try:
        written = write_case_files(phantom, staging, args.naming, physiology=args.physiology)
        _move_into_place(staging, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
    for path in written:
        print(out / path.name)
    return 0
