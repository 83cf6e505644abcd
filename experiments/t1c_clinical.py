"""T1c-only segmentation of the two real clinical studies, scored against their lesion labels.

Runs what a clinician would: ``weakseg segment --t1c STUDY --reference t1c --model default``
(a fresh process). The study has no FLAIR/T1/T2, so the default family falls back to
``default-tumour-t1c``, preprocessing runs automatically (thick slices, skull on), and the labels
come back on the study's own 6.5 mm grid. The lesion label's definition is undocumented
(../shared/data/README.md), so Dice is reported for each BraTS region (WT, TC, ET) against it.

    python experiments/t1c_clinical.py [--work /work/runs/t1c-clinical]

Writes docs/results/t1c-only-clinical.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLINICAL = ROOT.parent / "shared" / "data" / "clinical"
RESULTS = ROOT / "docs" / "results"
REGIONS = {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}


def score(labels_path: Path, lesion_path: Path) -> dict:
    import numpy as np
    import SimpleITK as sitk

    predicted = sitk.GetArrayFromImage(sitk.ReadImage(str(labels_path)))
    lesion = sitk.GetArrayFromImage(sitk.ReadImage(str(lesion_path))) > 0
    if predicted.shape != lesion.shape:
        raise SystemExit(f"{labels_path}: labels {predicted.shape} are not on the study's grid {lesion.shape}")
    out = {}
    for region, values in REGIONS.items():
        mask = np.isin(predicted, values)
        total = int(mask.sum()) + int(lesion.sum())
        out[region] = round(2.0 * float((mask & lesion).sum()) / total, 4) if total else 1.0
        out[f"{region}_voxels"] = int(mask.sum())
    out["lesion_voxels"] = int(lesion.sum())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/work/runs/t1c-clinical"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for name in ("brain1", "brain2"):
        out = args.work / name
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "weakseg", "segment", "--t1c", str(CLINICAL / f"{name}_image.nrrd"),
                              "--reference", "t1c", "--model", "default", "--out", str(out), "--threads", str(args.threads)],
                             capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            raise SystemExit(f"{name}: weakseg segment failed: {run.stderr.strip()}")
        provenance = json.loads(next(out.glob("*_provenance.json")).read_text())
        row = {"study": name, "seconds": round(seconds, 1), "model": provenance["model_id"],
               "warnings": [line for line in run.stderr.splitlines() if "warning" in line],
               **score(next(out.glob("*_labels.nii.gz")), CLINICAL / f"{name}_label.nrrd")}
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "t1c-only-clinical.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# T1c-only segmentation of the real clinical studies", "",
             f"Produced by `python experiments/t1c_clinical.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
             "(a fresh `weakseg segment --t1c STUDY --reference t1c --model default` per study; this shared 2-core CPU).", "",
             "The studies (../shared/data/clinical, pyradiomics test data) are single axial post-contrast T1 series, "
             "0.78 × 0.78 × 6.5 mm, skull on. The default model needs four sequences, so `segment` falls back to its "
             "family's T1c-only member and preprocesses (1 mm grid, brain extraction); labels come back on the "
             "6.5 mm grid and are scored there. The lesion label's definition is undocumented, so each BraTS region "
             "is scored against it; a lesion drawn on T1c is most likely the enhancing lesion or the core (TC).", "",
             "| study | model | lesion voxels | WT Dice | TC Dice | ET Dice | WT / TC / ET voxels | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['study']} | {r['model']} | {r['lesion_voxels']} | {r['WT']:.3f} | {r['TC']:.3f} | {r['ET']:.3f} | "
              f"{r['WT_voxels']} / {r['TC_voxels']} / {r['ET_voxels']} | {r['seconds']} |" for r in rows]
    lines += ["", "What `segment` said:", ""] + [f"- {r['study']}: " + " / ".join(w.replace("weakseg: warning: ", "")
                                                                               for w in r["warnings"]) for r in rows]
    (RESULTS / "t1c-only-clinical.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
