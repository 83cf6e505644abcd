"""``segment`` job: load a case and a model, segment, write every output, report where they are.

The result carries what the panel needs to build the segmentation node without importing
torch itself: output paths, the card's labels (names, values, colours, SNOMED CT codes),
provenance, and the slices where the model was least sure (to review first).

``SegmentParameters`` is also the schema ``weakseg segment`` checks its options against,
so the command line and the worker accept exactly the same values.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from weakseg import SEQUENCES
from weakseg.errors import WeakSegError
from weakseg.io.validate import spec
from weakseg.worker.job import parameters_as
from weakseg.worker.results import review_slices


@dataclass
class SegmentParameters:
    out: str
    model: str = "default"
    case: str | None = None
    sequences: dict[str, str] = spec(default_factory=dict, keys=tuple(SEQUENCES))
    reference: str = spec("flair", choices=tuple(SEQUENCES))
    device: str = spec("auto", choices=("auto", "cpu", "cuda", "mps"))
    tta: bool | None = None  # None: as the model card says
    batch_size: int | None = spec(None, minimum=1, maximum=4096)
    threads: int | None = spec(None, minimum=1, maximum=1024)
    min_component: float | None = spec(None, minimum=0.0, maximum=1.0)
    prefix: str | None = spec(None, name=True)
    case_id: str | None = spec(None, name=True)
    preprocess: str = spec("auto", choices=("auto", "none", "force"))
    n4: bool = False
    low_confidence: tuple[float, float] = (0.25, 0.75)


def output_stem(prefix: str | None, case_id: str | None, loaded_id: str) -> str:
    """File-name stem of a result set: the prefix, else the given case id, else the case's own id."""
    return prefix or case_id or loaded_id


def run(parameters: dict, events, job) -> dict:
    p = parameters_as(SegmentParameters, job)
    if not p.case and not p.sequences:
        raise WeakSegError("segment job needs 'case' or 'sequences'", job.path)
    low, high = p.low_confidence
    if not 0.0 <= low <= high <= 1.0:
        raise WeakSegError("segment job parameter 'low_confidence' must be [low, high] with 0 <= low <= high <= 1",
                           job.path)
    from weakseg.inference import InferenceConfig, write_outputs
    from weakseg.inference.outputs import segment_outputs
    from weakseg.io.case import load_case
    from weakseg.models.family import model_for_case

    events.progress("load", fraction=0.0, message="reading images")
    case = load_case(p.case, sequences=p.sequences or None, reference=p.reference)
    outputs = segment_outputs(Path(p.out), output_stem(p.prefix, p.case_id, case.case_id), case,
                              case_dirs=[p.case] if p.case else [])
    events.progress("model", fraction=0.0, message=f"loading model {p.model}")
    model, fallback = model_for_case(p.model, case.images, device="cpu")
    config = InferenceConfig(device=p.device, tta=p.tta, batch_size=p.batch_size, threads=p.threads,
                             min_component_fraction=p.min_component)
    from weakseg.clinical import segment_checked

    notes: list[str] = [fallback] if fallback else []
    result, prepared = segment_checked(case, model, config, mode=p.preprocess, n4=p.n4, progress=events.engine_progress,
                                       cancel=threading.Event(), case_id=p.case_id, notify=notes.append)
    events.progress("write", fraction=0.0, message="writing outputs")
    paths = write_outputs(result, outputs, case)
    events.progress("write", fraction=1.0, message="outputs written")
    card = model.card
    return {
        "case_id": p.case_id or case.case_id,
        "outputs": {kind: str(path) for kind, path in paths.items()},
        "model": {"id": card.id, "method": card.method, "sha256": card.weights.get("sha256", ""),
                  "version": card.version_label,
                  "sequences": list(card.sequences)},
        "labels": [asdict(entry) for entry in result.label_entries],
        "tumour": card.method != "oar",
        "provenance": result.provenance,
        "parameters": {"device": p.device, "tta": p.tta, "batch_size": p.batch_size, "reference": p.reference,
                       "preprocess": p.preprocess},
        "preprocessing": prepared.provenance() if prepared is not None else None,
        "low_confidence_slices": review_slices(result.slice_table, low, high),  # flagged slices first
        "warnings": case.warnings_for(card.sequences) + notes + list(result.warnings),
    }
