"""Find prediction and truth files and pair them by case id.

A case id is a file name without its image extension and without a trailing role word
(``_seg``, ``-seg``, ``_pred``, ``_prediction``, ``_label(s)``, ``_mask``,
``_segmentation``): ``Brats18_2013_2_1_seg.nii.gz`` and ``Brats18_2013_2_1.nii.gz`` both
give ``Brats18_2013_2_1``. A folder may hold label files directly, or one case folder per
case (BraTS layout) whose segmentation file is used. Hidden files (``.name``, e.g. another
writer's temporary file) are ignored.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from weakseg.errors import WeakSegError
from weakseg.io.image import IMAGE_SUFFIXES, has_image_suffix

log = logging.getLogger("weakseg")

_ROLE = re.compile(r"[_-](seg|pred|prediction|label|labels|mask|segmentation)$", re.I)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def case_id(path: str | Path) -> str:
    """Case id of a label file (see module docstring)."""
    return _ROLE.sub("", _stem(Path(path)))


def _label_file_in_case_folder(folder: Path) -> Path | None:
    images = sorted(p for p in folder.iterdir() if p.is_file() and has_image_suffix(p) and not p.name.startswith("."))
    labelled = [p for p in images if _ROLE.search(_stem(p))]
    if len(labelled) > 1:
        raise WeakSegError(f"several label files in one case folder: {', '.join(p.name for p in labelled)}", folder)
    if labelled:
        return labelled[0]
    return images[0] if len(images) == 1 else None


def collect(path: str | Path) -> dict[str, Path]:
    """``{case id: label file}`` for a file, a folder of label files, or a folder of case folders.

    In a folder of files, when some names carry a role word only those are taken (so a
    BraTS-style folder's ``*_flair`` images are ignored).
    """
    path = Path(path)
    if not path.exists():
        raise WeakSegError("not found", path)
    if path.is_file():
        return {case_id(path): path}
    files = sorted(p for p in path.iterdir() if p.is_file() and has_image_suffix(p) and not p.name.startswith("."))
    labelled = [p for p in files if _ROLE.search(_stem(p))]
    found: dict[str, Path] = {}
    for p in labelled or files:
        key = case_id(p)
        if key in found:
            raise WeakSegError(f"two files for case '{key}': {found[key].name} and {p.name}", path)
        found[key] = p
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = _label_file_in_case_folder(sub)
        if label is not None and sub.name not in found:
            found[sub.name] = label
    if not found:
        raise WeakSegError("no label images found (.nii.gz, .nrrd, .mha files or case folders holding *_seg)", path)
    return found


def pair(pred: str | Path, truth: str | Path) -> list[tuple[str, Path, Path]]:
    """``[(case id, prediction file, truth file)]`` sorted by case id.

    Two files are paired whatever their names. Otherwise every prediction needs a truth
    (an error names the first that has none); truths without a prediction are logged.
    """
    preds, truths = collect(pred), collect(truth)
    if Path(pred).is_file() and len(truths) == 1:
        (t_path,) = truths.values()
        (p_id, p_path), = preds.items()
        return [(p_id, p_path, t_path)]
    unmatched = sorted(set(preds) - set(truths))
    if unmatched:
        raise WeakSegError(f"no truth for case '{unmatched[0]}' ({len(unmatched)} prediction(s) unmatched) in {truth}",
                           preds[unmatched[0]])
    missing = sorted(set(truths) - set(preds))
    if missing:
        log.warning("%d truth case(s) have no prediction and are not scored: %s", len(missing),
                    ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
    return [(key, preds[key], truths[key]) for key in sorted(preds)]
