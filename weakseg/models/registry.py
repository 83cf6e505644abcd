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
from weakseg.io.atomic import write_text_atomic
from weakseg.io.digest import sha256_file
from weakseg.io.output_set import staged_folder
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


def registered_cards() -> list[tuple[Path, ModelCard]]:
    """(folder, card) of every readable registered model, user folder first (a user's model replaces the
    shipped one of the same id); a broken card is left out here, loading it directly still says why."""
    found: dict[str, tuple[Path, ModelCard]] = {}
    for root in (user_models_dir(), PACKAGE_MODELS):
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if not (folder / CARD_NAME).is_file():
                continue
            try:
                card = ModelCard.read(folder / CARD_NAME)
            except WeakSegError:
                continue
            found.setdefault(card.id, (folder, card))
    return list(found.values())


def runnable_models(available) -> list[str]:
    """Ids of the registered models whose sequences are all in ``available`` (for messages about a case)."""
    have = set(available)
    return sorted(card.id for _, card in registered_cards() if set(card.sequences) <= have)


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
    check_network_fits(card, weights, folder / CARD_NAME)
    network = build_network(card.network["name"], card.network["config"], initialise=False)
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
    """Write weights (safetensors) and the sealed card into ``folder``, which appears whole or not at all.

    The folder is built beside its final place and renamed in one step
    (``weakseg.io.output_set.staged_folder``); the files get the user's usual mode.
    """
    folder = Path(folder)
    module = network.module if hasattr(network, "module") else network
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}
    with staged_folder(folder, what="model folder") as staging:
        weights = staging / WEIGHTS_NAME
        save_file(state, str(weights), metadata={"model_id": card.id})
        card.weights = {**card.weights, "file": WEIGHTS_NAME, "sha256": sha256_file(weights),
                        "bytes": weights.stat().st_size, "format": "safetensors"}
        write_text_atomic(staging / CARD_NAME, card.sealed().to_json())
    return folder


MAX_PARAMETERS = 2_000_000_000
"""More weights than this in a card's network is refused before anything is allocated."""


def check_network_fits(card: ModelCard, weights: Path, card_path: Path) -> None:
    """Compare the card's network (built on the meta device: no memory) with the weights file's tensor shapes.

    Refuses a network whose shapes differ from the weights, or absurdly large, before the
    real network is allocated (an edited card once made loading allocate 4.8 GB).
    """
    from safetensors import safe_open

    try:
        with torch.device("meta"):
            meta = build_network(card.network["name"], card.network["config"], initialise=False)
    except WeakSegError:
        raise
    except Exception as exc:  # a card whose network config the builder rejects
        raise WeakSegError(f"model card describes a network that cannot be built ({type(exc).__name__}: {exc})",
                           card_path) from None
    expected = {k: tuple(v.shape) for k, v in meta.state_dict().items()}
    total = sum(int(torch.Size(s).numel()) for s in expected.values())
    if total > MAX_PARAMETERS:
        raise WeakSegError(f"model card describes a network of {total:,} values (limit {MAX_PARAMETERS:,}); refusing it",
                           card_path)
    try:
        with safe_open(str(weights), framework="pt") as handle:
            stored = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}
    except Exception as exc:
        raise WeakSegError(f"weights file cannot be read as safetensors ({type(exc).__name__})", weights) from None
    if stored != expected:
        differ = sorted(k for k in set(stored) | set(expected) if stored.get(k) != expected.get(k))
        raise WeakSegError(f"weights do not fit the network in the card ({len(differ)} tensor(s) differ, e.g. "
                           f"{differ[0]}: card {expected.get(differ[0])}, weights {stored.get(differ[0])})", weights)
