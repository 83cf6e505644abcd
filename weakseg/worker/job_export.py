"""``export-rtstruct`` / ``export-seg`` jobs: a labelmap to DICOM referencing the original series."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weakseg.io.validate import spec
from weakseg.worker.job import parameters_as


@dataclass
class ExportParameters:
    labels: str
    reference_dir: str
    out: str
    names: dict[str, Any] | None = spec(None, keys=lambda key: key.lstrip("-").isdigit(), help="label values (integers)")
    model_name: str = "WeakSeg"
    model_version: str = ""


def run(parameters: dict, events, job) -> dict:
    p = parameters_as(ExportParameters, job)
    from weakseg.rt import RtExportConfig, export_rtstruct, export_seg

    names = {int(k): v for k, v in p.names.items()} if p.names else None
    config = RtExportConfig(model_name=p.model_name, **({"model_version": p.model_version} if p.model_version else {}))
    events.progress("export", fraction=0.0, message="reading the reference series")
    writer = export_seg if job.kind == "export-seg" else export_rtstruct
    path = writer(p.labels, names, p.reference_dir, p.out, config)
    events.progress("export", fraction=1.0, message=f"wrote {Path(path).name}")
    return {"path": str(path), "kind": job.kind}
