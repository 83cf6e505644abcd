"""One validator for arguments and job parameters, shared by the CLI and the worker.

A parameters dataclass is the schema: each field's type annotation says what JSON value it
takes, and ``spec(...)`` metadata adds ranges, choices and "safe name" rules. The worker
fills it from a job file with :func:`from_mapping`; the CLI gets the same checks from
:func:`arg_type` (an argparse ``type=``) or :func:`check_fields`. Every problem is a
one-line ``WeakSegError`` naming the parameter (and the job file).

A *safe name* is an identifier that becomes part of a file or folder name (model id,
prefix, case id): letters, digits and ``._+-``, not starting with a dot or a dash, no path
separators, at most ``MAX_NAME`` bytes, so it can never point outside the folder it is
joined to.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from weakseg.errors import WeakSegError

MAX_NAME = 239
"""Bytes a safe name may have: the longest output suffix (``_provenance.json``) still fits NAME_MAX (255)."""

_SAFE = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9._+-]*$")
_LABEL = re.compile(r"^[^\x00-\x1f\x7f/\\]+$")
MAX_LABEL = 64


def safe_name(value: Any, what: str, path: str | Path | None = None) -> str:
    """``value`` if it is a safe name (see the module docstring), else a ``WeakSegError``."""
    if not isinstance(value, str) or not value:
        raise WeakSegError(f"{what} must be a non-empty name, got {value!r}", path)
    if len(value.encode("utf-8")) > MAX_NAME:
        raise WeakSegError(f"{what} is too long ({len(value.encode('utf-8'))} bytes; at most {MAX_NAME})", path)
    if not _SAFE.match(value) or value in (".", ".."):
        raise WeakSegError(f"{what} {value!r} is not a safe name: use letters, digits and . _ + - only "
                           "(no path separators, not starting with a dot or a dash)", path)
    return value


def label_name(value: Any, what: str, path: str | Path | None = None) -> str:
    """A class or structure name: non-empty text without control characters or slashes, at most 64 characters."""
    if not isinstance(value, str) or not value.strip():
        raise WeakSegError(f"{what} must be a non-empty name, got {value!r}", path)
    if len(value) > MAX_LABEL or not _LABEL.match(value) or value != value.strip():
        raise WeakSegError(f"{what} {value!r} is not a valid name (at most {MAX_LABEL} characters, no control "
                           "characters, slashes or surrounding spaces)", path)
    return value


def spec(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, minimum: float | None = None,
         maximum: float | None = None, choices: tuple | None = None, name: bool = False, keys: tuple | None = None,
         help: str = "") -> Any:
    """A dataclass field with validation metadata (ranges, choices, safe name, allowed mapping keys)."""
    meta = {"minimum": minimum, "maximum": maximum, "choices": choices, "name": name, "keys": keys, "help": help}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# ---------------------------------------------------------------------------- types


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if hint is type(None):
        return "null"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if origin in (dict, Mapping):
        return "an object"
    if origin in (list, tuple):
        args = typing.get_args(hint)
        return f"a list of {len(args)} numbers" if origin is tuple and args and args[-1] is not Ellipsis else "a list"
    return {int: "an integer", float: "a number", bool: "true or false", str: "text", dict: "an object",
            list: "a list", Any: "a value"}.get(hint, getattr(hint, "__name__", str(hint)))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", int: "an integer", float: "a number", str: "text", dict: "an object",
            list: "a list"}.get(type(value), type(value).__name__)


def _conforms(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in typing.get_args(hint))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if hint in (dict, list):
        return isinstance(value, hint)
    if origin in (dict, Mapping):
        key, val = typing.get_args(hint) or (Any, Any)
        return isinstance(value, dict) and all(_conforms(k, key) and _conforms(v, val) for k, v in value.items())
    if origin in (list, tuple):
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_conforms(v, a) for v, a in zip(value, args))
        item = args[0] if args else Any
        return all(_conforms(v, item) for v in value)
    return isinstance(value, hint) if isinstance(hint, type) else True


def check_value(value: Any, hint: Any, meta: Mapping[str, Any], what: str, path: str | Path | None = None) -> Any:
    """``value`` checked against a type hint and ``spec`` metadata; returns it (tuples for tuple hints)."""
    if not _conforms(value, hint):
        raise WeakSegError(f"{what} must be {_describe(hint)}, got {_json_type(value)} {_short(value)}", path)
    if value is None:
        return value
    lo, hi = meta.get("minimum"), meta.get("maximum")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if lo is not None and value < lo or hi is not None and value > hi:
            bounds = f">= {lo}" if hi is None else f"<= {hi}" if lo is None else f"between {lo} and {hi}"
            raise WeakSegError(f"{what} must be {bounds}, got {value}", path)
    choices = meta.get("choices")
    if choices and value not in choices:
        raise WeakSegError(f"{what} must be one of {', '.join(map(str, choices))}, got {_short(value)}", path)
    if meta.get("name"):
        safe_name(value, what, path)
    keys = meta.get("keys")
    if keys is not None and isinstance(value, dict):
        bad = [k for k in value if (k not in keys if isinstance(keys, tuple) else not keys(k))]
        if bad:
            allowed = ", ".join(keys) if isinstance(keys, tuple) else meta.get("help") or "see the documentation"
            raise WeakSegError(f"{what}: unknown key(s) {', '.join(map(repr, bad))} (allowed: {allowed})", path)
    if isinstance(value, list) and _wants_tuple(value, hint):
        return tuple(value)
    return value


def _wants_tuple(value: list, hint: Any) -> bool:
    """True when ``hint`` takes ``value`` as a tuple (``tuple[float, float]``, alone or in a union), not a list."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if _conforms(value, a)]
        return bool(members) and typing.get_origin(members[0]) is tuple
    return typing.get_origin(hint) is tuple


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fields(cls) -> list[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def check_fields(obj: Any, what: str = "", path: str | Path | None = None) -> None:
    """Check every field of a dataclass instance against its annotation and ``spec`` metadata."""
    for f, hint in _fields(type(obj)):
        value = check_value(getattr(obj, f.name), hint, f.metadata, f"{what}{f.name}", path)
        object.__setattr__(obj, f.name, value)


def from_mapping(cls, data: Mapping[str, Any], what: str, path: str | Path | None = None):
    """An instance of dataclass ``cls`` from JSON-like ``data``: unknown, missing or mistyped keys are refused by name."""
    if not isinstance(data, Mapping):
        raise WeakSegError(f"{what} must be an object, got {_json_type(data)}", path)
    fields = _fields(cls)
    names = {f.name for f, _ in fields}
    unknown = sorted(set(data) - names)
    if unknown:
        raise WeakSegError(f"{what}: unknown parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})", path)
    missing = [f.name for f, _ in fields if f.name not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise WeakSegError(f"{what}: missing parameter(s) {', '.join(missing)}", path)
    values = {f.name: check_value(data[f.name], hint, f.metadata, f"{what} parameter '{f.name}'", path)
              for f, hint in fields if f.name in data}
    return cls(**values)


def arg_type(cls, name: str, option: str | None = None):
    """An argparse ``type=`` converting text as field ``name`` of ``cls`` declares, with the same checks as a job."""
    field, hint = next((f, h) for f, h in _fields(cls) if f.name == name)
    base = next((a for a in typing.get_args(hint) if a is not type(None)), hint) if typing.get_args(hint) else hint
    label = option or "--" + name.replace("_", "-")

    def convert(text: str):
        try:
            value = base(text) if base in (int, float) else text
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {_describe(base)}, got {text!r}") from None
        try:
            return check_value(value, hint, field.metadata, label)
        except WeakSegError as exc:
            raise argparse.ArgumentTypeError(exc.message.removeprefix(label + " ")) from None

    convert.__name__ = _describe(base)
    return convert
