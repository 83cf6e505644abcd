"""The models a panel can offer, read from their cards without importing torch.

The Slicer process only lists models; torch is imported by the worker that runs them. The
folders and their precedence are the registry's (``weakseg.models.registry``): the user
models folder (``$WEAKSEG_MODELS`` or ``~/.weakseg/models``), where trained models are
registered, then the models shipped in the package.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import weakseg

CARD_NAME = "card.json"
PACKAGE_MODELS = Path(weakseg.__file__).resolve().parent / "models"
SEQUENCE_NAMES = {"t1": "T1", "t1c": "T1 contrast", "t2": "T2", "flair": "FLAIR"}


def user_models_dir() -> Path:
    return Path(os.environ.get("WEAKSEG_MODELS") or Path.home() / ".weakseg" / "models")


@dataclass
class ModelEntry:
    id: str
    method: str
    folder: Path
    sequences: list[str] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    description: str = ""
    licence: str = ""
    metrics: dict = field(default_factory=dict)
    version: str = ""
    training_data: str = ""
    tta: bool = False
    """Whether the card's inference uses test-time augmentation (the panel's TTA box starts there)."""
    family: str = ""
    """The card's model family: a case lacking a sequence is segmented by the member it has every sequence for."""

    @property
    def kind(self) -> str:
        """'oar' for organ-at-risk models, else 'tumour' (the method's registry entry decides)."""
        from weakseg.methods import methods

        info = methods().get(self.method)
        return info.target if info is not None else "tumour"

    def title(self) -> str:
        """'Default tumour 1.0.0': the id in words, for the model list."""
        words = self.id.replace("-", " ").replace("_", " ").strip()
        words = words[:1].upper() + words[1:]
        return f"{words} {self.version}".strip()

    def inputs_text(self) -> str:
        """The sequences the model expects, in words ('FLAIR, T1, T1 contrast, T2')."""
        return ", ".join(SEQUENCE_NAMES.get(s, s) for s in self.sequences)


def _read(folder: Path) -> ModelEntry | None:
    try:
        card = json.loads((folder / CARD_NAME).read_text(encoding="utf-8"))
        return ModelEntry(str(card["id"]), str(card.get("method", "")), folder, list(card.get("sequences", [])),
                          list(card.get("labels", [])), str(card.get("description", "")), str(card.get("licence", "")),
                          dict(card.get("metrics", {})), str(card.get("version", "")),
                          str((card.get("training") or {}).get("dataset", "")),
                          bool((card.get("inference") or {}).get("tta", False)), str(card.get("family") or ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a broken card is reported when the model is loaded, not while listing


def list_models(kind: str | None = None) -> list[ModelEntry]:
    """Every readable model (user folder first; a user model hides a shipped one with the same folder name)."""
    seen: dict[str, ModelEntry] = {}
    for root in (user_models_dir(), PACKAGE_MODELS):
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if folder.name in seen or not (folder / CARD_NAME).is_file():
                continue
            entry = _read(folder)
            if entry is not None:
                seen[folder.name] = entry
    models = sorted(seen.values(), key=lambda m: m.id)
    return [m for m in models if kind is None or m.kind == kind]
