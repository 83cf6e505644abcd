"""Importing a model (a folder or a .zip) into the user models folder, verified before it is listed.

The card is parsed with the engine's own ``ModelCard`` and the weights' SHA-256 is checked
against it (``weakseg.io.digest.sha256_file``, the check ``load_model`` repeats at every
load), so a damaged download never reaches the model list. The copy is made in a hidden
folder beside the target and renamed into place: a failed import leaves nothing behind.
No Qt. ``weakseg.models``'s package ``__init__`` still imports torch (requested from its owner
to be lazy), so the card module is imported only when a model is imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from weakseg.errors import WeakSegError
from weakseg.io.digest import sha256_file
from weakseg_mrml.catalog import CARD_NAME, ModelEntry, list_models, user_models_dir


def _model_folder(root: Path, source) -> Path:
    """The folder holding card.json: ``root`` itself or its only sub-folder (a zip of the model folder)."""
    if (root / CARD_NAME).is_file():
        return root
    subfolders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("__MACOSX", "."))]
    if len(subfolders) == 1 and (subfolders[0] / CARD_NAME).is_file():
        return subfolders[0]
    raise WeakSegError(f"no {CARD_NAME} found; not a WeakSeg model", source)


def _extract(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                target = (into / member.filename).resolve()
                if not target.is_relative_to(into.resolve()) or member.filename.startswith("/"):
                    raise WeakSegError(f"archive entry '{member.filename}' points outside the archive", archive)
            zf.extractall(into)
    except zipfile.BadZipFile:
        raise WeakSegError("is not a readable .zip archive", archive) from None


def verify_model(folder: str | Path):
    """The ``ModelCard`` of the model in ``folder`` after checking its weights' SHA-256; one-line error otherwise."""
    from weakseg.models.card import ModelCard

    folder = Path(folder)
    card = ModelCard.read(folder / CARD_NAME)
    weights = folder / str(card.weights["file"])
    if weights.resolve().parent != folder.resolve():
        raise WeakSegError(f"weights file '{card.weights['file']}' must lie in the model folder", folder / CARD_NAME)
    if not weights.is_file():
        raise WeakSegError("weights file named by the model card is missing", weights)
    if sha256_file(weights) != card.weights["sha256"]:
        raise WeakSegError("weights do not match the SHA-256 in the model card (damaged or changed); not imported",
                           weights)
    return card


def import_model(source: str | Path, models_dir: str | Path | None = None, *, replace: bool = False) -> ModelEntry:
    """Verify the model folder or .zip at ``source`` and copy it into the user models folder; its list entry."""
    source = Path(source)
    if not source.exists():
        raise WeakSegError("not found", source)
    root = Path(models_dir) if models_dir else user_models_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
    try:
        if source.is_dir():
            folder = _model_folder(source, source)
        elif source.suffix.lower() == ".zip":
            _extract(source, staging / "zip")
            folder = _model_folder(staging / "zip", source)
        else:
            raise WeakSegError("choose a model folder or a .zip file", source)
        card = verify_model(folder)
        target = root / card.id
        if target.exists() and not replace:
            raise WeakSegError(f"a model '{card.id}' is already installed; remove it first or import with replace",
                               target)
        copy = staging / "model"
        shutil.copytree(folder, copy)
        verify_model(copy)  # the copy, not only the source, is what gets listed
        if target.exists():
            shutil.rmtree(target)
        os.replace(copy, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for entry in list_models():
        if entry.folder.resolve() == target.resolve():
            return entry
    raise WeakSegError("imported, but the model list cannot read its card", target)


def is_removable(entry: ModelEntry) -> bool:
    """A model the user added (trained or imported); the shipped ones are part of the extension."""
    return entry.folder.resolve().parent == user_models_dir().resolve()


def remove_model(entry: ModelEntry) -> None:
    """Delete a user model's folder (after the panel asked); shipped models are refused."""
    if not is_removable(entry):
        raise WeakSegError(f"model '{entry.id}' ships with WeakSeg and cannot be removed", entry.folder)
    doomed = entry.folder.with_name(f".removing-{entry.folder.name}")
    os.replace(entry.folder, doomed)  # gone from the list at once, even if the delete below is slow
    shutil.rmtree(doomed, ignore_errors=True)
