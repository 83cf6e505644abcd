"""A job file: ``{"kind": "segment", "parameters": {...}}``, and the registry of job kinds.

Job modules are imported only when their kind runs, so a light job (``info``,
``selftest``) starts without importing torch. Parameters are checked against the job's
parameters dataclass by ``weakseg.io.validate`` (the same checks as the command line).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from weakseg.errors import WeakSegError
from weakseg.io.jsonfile import read_json_object
from weakseg.io.validate import from_mapping

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
    if path.is_dir():
        raise WeakSegError("job file is a folder, expected a JSON file", path)
    data = read_json_object(path, "job file")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in JOBS:
        raise WeakSegError(f"unknown job kind {kind!r} (expected one of {', '.join(JOBS)})", path)
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        raise WeakSegError("job 'parameters' must be a JSON object", path)
    return Job(kind, parameters, path)


def job_runner(kind: str) -> Callable:
    """The ``run(parameters, events, job)`` function of a job kind."""
    return importlib.import_module(JOBS[kind]).run


def parameters_as(cls, job: Job):
    """Fill a parameters dataclass from the job, refusing unknown, missing or mistyped keys by name."""
    return from_mapping(cls, job.parameters, f"{job.kind} job", job.path)
