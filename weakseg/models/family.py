"""Missing sequences at test time: fall back to the family member trained for what the case has.

A model family is one model trained for different sequence subsets (the four-sequence default,
T1c alone, ...; ``ModelCard.family``). A case lacking a sequence the chosen model needs is
never zero-filled: it is segmented by the member with the most of the case's sequences, and the
user is told so; with no member fitting, it is refused, naming what each member needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from weakseg.errors import WeakSegError
from weakseg.models.card import ModelCard
from weakseg.models.registry import LoadedModel, load_model, registered_cards
from weakseg.sequence_subsets import best_member, words as _words


def family_members(family: str) -> list[tuple[Path, ModelCard]]:
    """(folder, card) of every registered model of ``family`` (a user's retrained member of the same id
    replaces the shipped one)."""
    return [(folder, card) for folder, card in registered_cards() if card.family == family]


def model_for_case(model_id_or_path: str | Path, available: Iterable[str],
                   device: str = "cpu") -> tuple[LoadedModel, str | None]:
    """The model to segment a case having ``available`` sequences with, and a note when it is not the one asked for."""
    model = load_model(model_id_or_path, device=device)
    have = set(available)
    card = model.card
    if set(card.sequences) <= have or not card.family:
        return model, None  # fits, or no family: the case check refuses with its own message
    members = family_members(card.family)
    chosen = best_member(((member, member[1].id, member[1].sequences) for member in members), have)
    if chosen is None:
        needs = "; ".join(f"{c.id} needs {_words(c.sequences)}" for _, c in members)
        raise WeakSegError(f"case has {_words(sorted(have))}: no model of family '{card.family}' can segment it "
                           f"({needs}); nothing was zero-filled")
    folder, best = chosen
    note = (f"case has {_words(sorted(have))}, model '{card.id}' needs {_words(card.sequences)}: segmenting with "
            f"'{best.id}', trained for {_words(best.sequences)} only")
    return load_model(folder, device=device), note


__all__ = ["family_members", "model_for_case"]
