"""Which member of a model family segments a case that lacks some sequences (torch-free).

One rule for the engine (``weakseg.models.family``) and for the Slicer panels (``weakseg_mrml``),
so the panel says beforehand exactly which model the worker will use: among the members whose
sequences the case has, the one with the most sequences (ties by id).
"""

from __future__ import annotations

from typing import Iterable, Sequence, TypeVar

T = TypeVar("T")


def best_member(members: Iterable[tuple[T, str, Sequence[str]]], available: Iterable[str]) -> T | None:
    """The member (of ``(member, its id, its sequences)``) to use for a case having ``available``; None if none fits."""
    have = set(available)
    fitting = [(len(sequences), model_id, member) for member, model_id, sequences in members if set(sequences) <= have]
    return max(fitting, key=lambda m: m[:2])[2] if fitting else None


def words(sequences: Iterable[str]) -> str:
    """'flair+t1c' (or 'none'), as the fallback notes and refusals name sequence sets."""
    return "+".join(sequences) or "none"


__all__ = ["best_member", "words"]
