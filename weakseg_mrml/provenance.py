"""Provenance stored on the result: which model, weights, parameters, time and device made it.

No reference extension records this; a segmentation that reaches a planning system must
say where it came from. It is written both as node attributes (saved with the scene) and
as segment tags (saved inside ``.seg.nrrd``, so it survives without the scene).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from weakseg import __version__
from weakseg_mrml import ATTRIBUTE_PREFIX
from weakseg_mrml.tags import get_tag

_KEYS = {
    "model_id": "ModelId",
    "model_version": "ModelVersion",
    "model_sha256": "ModelSHA256",
    "parameters": "Params",
    "extension_version": "ExtensionVersion",
    "timestamp": "Timestamp",
    "device": "Device",
}


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Provenance:
    model_id: str
    model_version: str = ""
    model_sha256: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    timestamp: str = field(default_factory=now_utc)
    extension_version: str = __version__

    @classmethod
    def from_dict(cls, data: dict) -> "Provenance":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def attributes(self) -> dict[str, str]:
        """Attribute name → string value (parameters as sorted JSON)."""
        out = {}
        for key, name in _KEYS.items():
            value = getattr(self, key)
            out[ATTRIBUTE_PREFIX + name] = json.dumps(value, sort_keys=True) if key == "parameters" else str(value)
        return out

    def to_dict(self) -> dict:
        return asdict(self)


def write_provenance(node, provenance: Provenance) -> None:
    """Set the attributes on the node and, for a segmentation, as tags on every segment."""
    attributes = provenance.attributes()
    for name, value in attributes.items():
        node.SetAttribute(name, value)
    if node.IsA("vtkMRMLSegmentationNode"):
        segmentation = node.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            segment = segmentation.GetNthSegment(index)
            for name, value in attributes.items():
                segment.SetTag(name, value)


def read_provenance(node_or_segment) -> Provenance | None:
    """Provenance from a node's attributes or a segment's tags; None when there is none."""
    is_segment = node_or_segment.IsA("vtkSegment")
    values: dict[str, Any] = {}
    for key, name in _KEYS.items():
        if is_segment:
            text = get_tag(node_or_segment, ATTRIBUTE_PREFIX + name)
        else:
            text = node_or_segment.GetAttribute(ATTRIBUTE_PREFIX + name)
        if text is None:
            continue
        values[key] = json.loads(text) if key == "parameters" else text
    return Provenance.from_dict(values) if "model_id" in values else None
