"""A job file: ``{"kind": "segment", "parameters": {...}}``, and the registry of job kinds.

Job modules are imported only when their kind runs, so a light job (``info``,
``selftest``) starts without importing torch.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from weakseg.errors import WeakSegError
from weakseg.io.jsonfile import read_json_object

JOBS: dict[str, str] = {
    "info": "weakseg.worker.job_info",
    "selftest": "weakseg.worker.job_selftest",
    "segment": "weakseg.worker.job_segment",
    "train": "weakseg.worker.job_train",
    "export-rtstruct": "weakseg.worker.job_export",
    "export-seg": "weakseg.worker.job_export",
}


@dataclass
class Job:
    kind: str
    parameters: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def read_job(path: str | Path) -> Job:
    """Read and check a job file; every problem is a one-line ``WeakSegError`` naming the file."""
    path = Path(path)
    data = read_json_object(path, "job file")
    kind = data.get("kind")
    if kind not in JOBS:
        raise WeakSegError(f"unknown job kind {kind!r} (expected one of {', '.join(JOBS)})", path)
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        raise WeakSegError("job 'parameters' must be a JSON object", path)
    return Job(kind, parameters, path)


def job_runner(kind: str) -> Callable:
    """The ``run(parameters, events, job)`` function of a job kind."""
    return importlib.import_module(JOBS[kind]).run


def parameters_as(cls, job: Job):
    """Fill a parameters dataclass from the job, refusing unknown or missing keys by name."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(job.parameters) - names)
    if unknown:
        raise WeakSegError(f"{job.kind} job: unknown parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})",
                           job.path)
    try:
        return cls(**job.parameters)
    except TypeError as exc:
        raise WeakSegError(f"{job.kind} job: {exc}", job.path) from None
