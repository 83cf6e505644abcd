"""Reading the project's JSON files (cards, configs, jobs, manifests) with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from weakseg.errors import WeakSegError


def read_json_object(path: str | Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; a missing file, bad JSON or a non-object is a ``WeakSegError``.

    ``what`` names the file's role in the message ("model card", "job file", ...).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeakSegError(f"{what} not found", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeakSegError(f"corrupt {what}: not valid JSON ({exc})", path) from None
    if not isinstance(data, dict):
        raise WeakSegError(f"corrupt {what}: must hold a JSON object", path)
    return data
