"""The model card: everything needed to rebuild, run and judge a model, as JSON beside its weights.

A model is a folder with ``card.json`` and a safetensors weights file. The card
records the network (name + config, so no code is unpickled), the input sequences in
channel order, the preprocessing, the labels (values, colours, SNOMED CT codes), how it
was trained, what was measured, the weights' SHA-256, and the licence note.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from weakseg import brats
from weakseg.errors import WeakSegError
from weakseg.io.jsonfile import read_json_object

SCHEMA = "weakseg-model-card/1"
CARD_NAME = "card.json"
WEIGHTS_NAME = "model.safetensors"

BRATS_LICENCE = ("Trained on BraTS 2018 training data (Menze et al., IEEE TMI 2015; Bakas et al., Sci. Data 2017; "
                 "Bakas et al., arXiv:1811.02629). The images carry no open licence: this model is for research use "
                 "only, not for clinical decisions, and the training images are not redistributed.")


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
    inference: dict[str, Any] = field(default_factory=dict)
    regions: dict[str, list[int]] = field(default_factory=dict)
    branch_labels: list[str] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    description: str = ""
    version: str = ""
    schema: str = SCHEMA

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
        return cls.from_dict(read_json_object(path, "model card"), path)

    def label_by_class(self) -> dict[int, LabelEntry]:
        return {entry.class_index: entry for entry in self.labels}
