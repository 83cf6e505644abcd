"""Options of a method as a dataclass: to and from the plain dict a run's config and a model card hold."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, ClassVar

from weakseg.errors import WeakSegError


def check_known(cls, data: dict[str, Any], what: str) -> None:
    """Refuse keys that are not fields of dataclass ``cls``, naming them (a typo never passes silently)."""
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise WeakSegError(f"unknown {what}: {', '.join(unknown)}")


class Options:
    """Mixin for an option dataclass: ``to_dict`` and a ``from_dict`` that refuses unknown options.

    ``OPTIONS_OF`` names them in the message, e.g. "option(s) for method 'mixed'".
    """

    OPTIONS_OF: ClassVar[str] = "option(s)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        check_known(cls, data, cls.OPTIONS_OF)
        return cls(**data)
