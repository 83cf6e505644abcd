"""The model card: everything needed to rebuild, run and judge a model, as JSON beside its weights.

A model is a folder with ``card.json`` and a safetensors weights file. The card
records the network (name + config, so no code is unpickled), the input sequences in
channel order, the preprocessing, the labels (values, colours, SNOMED CT codes), how it
was trained, what was measured, the weights' SHA-256, and the licence note.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from weakseg import brats
from weakseg.errors import WeakSegError
from weakseg.io.jsonfile import read_json_object

log = logging.getLogger("weakseg")

SCHEMA = "weakseg-model-card/1"
CARD_NAME = "card.json"
WEIGHTS_NAME = "model.safetensors"

BRATS_LICENCE = ("Trained on BraTS 2018 training data (Menze et al., IEEE TMI 2015; Bakas et al., Sci. Data 2017; "
                 "Bakas et al., arXiv:1811.02629). The images carry no open licence: this model is for research use "
                 "only, not for clinical decisions, and the training images are not redistributed.")


def card_digest(data: dict) -> str:
    """SHA-256 of a card's JSON object without ``card_sha256``, keys sorted, compact: independent of formatting."""
    body = {k: v for k, v in data.items() if k != "card_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class LabelEntry:
    """One output label: ``class_index`` is the network's channel, ``value`` the labelmap value written."""

    name: str
    value: int
    class_index: int
    color: tuple[float, float, float]
    snomed_code: str = ""
    snomed_meaning: str = ""

    @classmethod
    def from_dict(cls, d: dict) -> "LabelEntry":
        return cls(str(d["name"]), int(d["value"]), int(d["class_index"]), tuple(float(c) for c in d["color"]),
                   str(d.get("snomed_code", "")), str(d.get("snomed_meaning", "")))


def brats_labels() -> list[LabelEntry]:
    """The tumour sub-regions in network-class order 1..3, written with BraTS 2018 values (1, 2, 4)."""
    values = {"necrosis": brats.NCR, "edema": brats.ED, "enhancing": brats.BRATS2018.enhancing}
    out = []
    for index, (name, (color, (code, meaning))) in enumerate(brats.SUBREGIONS.items(), start=1):
        out.append(LabelEntry(name, values[name], index, tuple(color), code, meaning))
    return out


@dataclass
class ModelCard:
    """See the module docstring. ``regions`` maps derived regions (WT/TC/ET) to labelmap values."""

    id: str
    method: str
    network: dict[str, Any]
    sequences: list[str]
    labels: list[LabelEntry]
    preprocessing: dict[str, Any] = field(default_factory=dict)
    expects: dict[str, Any] = field(default_factory=dict)
    """What the training images looked like (``weakseg.clinical.checks.Expects``); empty: BraTS-style inputs."""
    inference: dict[str, Any] = field(default_factory=dict)
    regions: dict[str, list[int]] = field(default_factory=dict)
    branch_labels: list[str] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    description: str = ""
    version: str = ""
    family: str = ""
    """Models that are one model for different sequence subsets (e.g. all four, T1c alone) share a
    family; a case lacking a sequence is segmented by the member it has every sequence for."""
    schema: str = SCHEMA
    card_sha256: str = ""
    """SHA-256 of the card's own JSON without this field (``card_digest``): an edited card is refused."""

    @property
    def version_label(self) -> str:
        """The card's version, or the weights' digest when it has none: either identifies the model exactly."""
        return self.version or f"sha256:{self.weights.get('sha256', '')[:12]}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = [asdict(entry) for entry in self.labels]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, d: dict, path: str | Path | None = None) -> "ModelCard":
        if d.get("schema") != SCHEMA:
            raise WeakSegError(f"not a WeakSeg model card (schema {d.get('schema')!r}, expected {SCHEMA!r})", path)
        missing = [k for k in ("id", "method", "network", "sequences", "labels", "weights") if k not in d]
        if missing:
            raise WeakSegError(f"model card lacks {', '.join(missing)}", path)
        if "sha256" not in d["weights"] or "file" not in d["weights"]:
            raise WeakSegError("model card 'weights' needs 'file' and 'sha256'", path)
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["labels"] = [LabelEntry.from_dict(e) for e in d["labels"]]
        return cls(**known)

    @classmethod
    def read(cls, path: str | Path) -> "ModelCard":
        """Read and check a card: its digest must match, so a hand-edited card (a network a thousand
        times larger, other label values) is refused before anything is built from it."""
        data = read_json_object(path, "model card")
        recorded = data.get("card_sha256")
        if recorded:
            if card_digest(data) != recorded:
                raise WeakSegError("model card was changed after it was written (its SHA-256 does not match "
                                   "card_sha256); refusing to use it", path)
        else:
            log.warning("%s: model card has no digest (written by an older WeakSeg); it cannot be checked", path)
        return cls.from_dict(data, path)

    def sealed(self) -> "ModelCard":
        """This card with ``card_sha256`` set (what ``save_model`` writes)."""
        self.card_sha256 = ""
        self.card_sha256 = card_digest(json.loads(self.to_json()))
        return self

    def label_by_class(self) -> dict[int, LabelEntry]:
        return {entry.class_index: entry for entry in self.labels}
