"""Find, load (SHA-256 verified, never unpickled) and save models.

Models are folders holding ``card.json`` and the weights it names. They are looked up
by path, then by id in the user folder (``$WEAKSEG_MODELS`` or ``~/.weakseg/models``),
then in the package folder. ``default`` is the shipped tumour model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.io.atomic import write_text_atomic, write_with
from weakseg.io.digest import sha256_file
from weakseg.models.card import CARD_NAME, WEIGHTS_NAME, ModelCard
from weakseg.nn import build_network

PACKAGE_MODELS = Path(__file__).resolve().parent
ALIASES = {"default": "default-tumour"}


def user_models_dir() -> Path:
    return Path(os.environ.get("WEAKSEG_MODELS") or Path.home() / ".weakseg" / "models")



def find_model(model_id_or_path: str | Path) -> Path:
    """The folder of a model given a path (folder or card.json) or an id; one-line error if none."""
    text = str(model_id_or_path)
    candidate = Path(text).expanduser()
    if candidate.name == CARD_NAME and candidate.is_file():
        return candidate.parent
    if candidate.is_dir():
        if (candidate / CARD_NAME).is_file():
            return candidate
        raise WeakSegError(f"folder has no {CARD_NAME}; not a model folder", candidate)
    model_id = ALIASES.get(text, text)
    for root in (user_models_dir(), PACKAGE_MODELS):
        folder = root / model_id
        if (folder / CARD_NAME).is_file():
            return folder
    raise WeakSegError(f"no model '{text}' (looked in {user_models_dir()} and {PACKAGE_MODELS}; "
                       f"available: {', '.join(list_models()) or 'none'})")


def list_models() -> list[str]:
    """Ids of every model in the user and package folders."""
    ids = []
    for root in (user_models_dir(), PACKAGE_MODELS):
        if root.is_dir():
            ids += [p.name for p in sorted(root.iterdir()) if (p / CARD_NAME).is_file()]
    return sorted(set(ids))


@dataclass
class LoadedModel:
    """A verified model ready for inference (network in eval mode on ``device``)."""

    card: ModelCard
    network: nn.Module
    folder: Path
    device: torch.device

    @property
    def id(self) -> str:
        return self.card.id


def load_model(model_id_or_path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Find a model, check its weights' SHA-256 against the card, and build the network.

    A changed or corrupted weights file is refused with a one-line ``WeakSegError``.
    Weights are read with safetensors, which cannot execute code.
    """
    folder = find_model(model_id_or_path)
    card = ModelCard.read(folder / CARD_NAME)
    weights = folder / card.weights["file"]
    if weights.parent.resolve() != folder.resolve():
        raise WeakSegError(f"weights file '{card.weights['file']}' must lie in the model folder", folder / CARD_NAME)
    if not weights.is_file():
        raise WeakSegError("weights file named by the model card is missing", weights)
    actual = sha256_file(weights)
    if actual != card.weights["sha256"]:
        raise WeakSegError(f"weights SHA-256 {actual[:12]}… does not match the model card ({str(card.weights['sha256'])[:12]}…); "
                           "the file was changed or corrupted, refusing to load it", weights)
    network = build_network(card.network["name"], card.network["config"])
    try:
        state = load_file(str(weights))
        network.load_state_dict(state, strict=True)
    except Exception as exc:  # safetensors and torch raise their own types for malformed data
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeakSegError(f"weights do not fit the network in the card ({first})", weights) from None
    device = torch.device(device)
    network.to(device).eval()
    return LoadedModel(card, network, folder, device)


def save_model(network: nn.Module, card: ModelCard, folder: str | Path) -> Path:
    """Write weights (safetensors) then the card with their SHA-256, both atomically; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    module = network.module if hasattr(network, "module") else network
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}
    weights = folder / WEIGHTS_NAME
    write_with(weights, lambda tmp: save_file(state, str(tmp), metadata={"model_id": card.id}))
    card.weights = {**card.weights, "file": WEIGHTS_NAME, "sha256": sha256_file(weights),
                    "bytes": weights.stat().st_size, "format": "safetensors"}
    write_text_atomic(folder / CARD_NAME, card.to_json())
    return folder
