"""``segment`` job: load a case and a model, segment, write every output, report where they are.

The result carries what the panel needs to build the segmentation node without importing
torch itself: output paths, the card's labels (names, values, colours, SNOMED CT codes),
provenance, and the slices where the model was least sure (to review first).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from weakseg.errors import WeakSegError
from weakseg.worker.job import parameters_as
from weakseg.worker.results import low_confidence_slices


@dataclass
class SegmentParameters:
    out: str
    model: str = "default"
    case: str | None = None
    sequences: dict[str, str] = field(default_factory=dict)
    reference: str = "flair"
    device: str = "auto"
    tta: bool = False
    batch_size: int | None = None
    threads: int | None = None
    prefix: str | None = None
    low_confidence: tuple[float, float] = (0.25, 0.75)


def run(parameters: dict, events, job) -> dict:
    p = parameters_as(SegmentParameters, job)
    if not p.case and not p.sequences:
        raise WeakSegError("segment job needs 'case' or 'sequences'", job.path)
    from weakseg.inference import InferenceConfig, segment_case, write_outputs
    from weakseg.io.case import load_case
    from weakseg.models import load_model

    events.progress("load", fraction=0.0, message="reading images")
    case = load_case(p.case, sequences=p.sequences or None, reference=p.reference)
    events.progress("model", fraction=0.0, message=f"loading model {p.model}")
    model = load_model(p.model, device="cpu")
    config = InferenceConfig(device=p.device, tta=p.tta, batch_size=p.batch_size, threads=p.threads)
    result = segment_case(case, model, config, progress=events.engine_progress, cancel=threading.Event())
    events.progress("write", fraction=0.0, message="writing outputs")
    paths = write_outputs(result, Path(p.out), case, prefix=p.prefix)
    events.progress("write", fraction=1.0, message="outputs written")
    card = model.card
    low, high = p.low_confidence
    return {
        "case_id": case.case_id,
        "outputs": {kind: str(path) for kind, path in paths.items()},
        "model": {"id": card.id, "method": card.method, "sha256": card.weights.get("sha256", ""),
                  "version": card.version_label,
                  "sequences": list(card.sequences)},
        "labels": [asdict(entry) for entry in result.label_entries],
        "tumour": card.method != "oar",
        "provenance": result.provenance,
        "parameters": {"device": p.device, "tta": p.tta, "batch_size": p.batch_size, "reference": p.reference},
        "low_confidence_slices": low_confidence_slices(result.slice_table, low, high),
        "warnings": list(case.warnings),
    }
