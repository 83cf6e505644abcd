"""``info`` job: what a case holds (as ``weakseg info --json``); cheap, no torch."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg import SEQUENCES

from weakseg.io.case import load_case
from weakseg.io.validate import spec
from weakseg.worker.job import parameters_as


@dataclass
class InfoParameters:
    case: str | None = None
    sequences: dict[str, str] = spec(default_factory=dict, keys=tuple(SEQUENCES))
    labels: str | None = None
    reference: str = spec("flair", choices=tuple(SEQUENCES))


def run(parameters: dict, events, job) -> dict:
    from weakseg.cli.info import describe

    p = parameters_as(InfoParameters, job)
    events.progress("load", fraction=0.0, message="reading the case")
    case = load_case(p.case, sequences=p.sequences or None, labels=p.labels, reference=p.reference)
    events.progress("load", fraction=1.0, message="case read")
    return describe(case)
