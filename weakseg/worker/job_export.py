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
    flagged: str = spec("keep", choices=("keep", "drop", "mark"), help="what to do with the flagged slices")
    flagged_slices: list[int] = spec(default_factory=list, help="canonical axial indices the model flagged (GAN seeds' difference score)")


def run(parameters: dict, events, job) -> dict:
    p = parameters_as(ExportParameters, job)
    from weakseg.rt import RtExportConfig, export_rtstruct, export_seg

    from weakseg.methods.gan_seeds.review import flags_for_export

    names = {int(k): v for k, v in p.names.items()} if p.names else None
    source, description = flags_for_export(p.flagged, Path(p.labels), [{"slice": s, "flagged": True}
                                                                       for s in p.flagged_slices])
    config = RtExportConfig(model_name=p.model_name, **({"model_version": p.model_version} if p.model_version else {}),
                            **({"series_description": description} if description else {}))
    events.progress("export", fraction=0.0, message="reading the reference series")
    writer = export_seg if job.kind == "export-seg" else export_rtstruct
    path = writer(source, names, p.reference_dir, p.out, config)
    events.progress("export", fraction=1.0, message=f"wrote {Path(path).name}")
    return {"path": str(path), "kind": job.kind}
