"""``weakseg segment --t1 HEAD --model default-oar`` on a 1 mm head: wall time of a fresh process.

    OMP_NUM_THREADS=2 python benchmarks/bench_oar.py [--repeats 3] [--threads 2] [--model default-oar]

The head is a phantom at 1 mm (155 x 240 x 240, skull on), written once to a temporary
folder. Reports the median wall time (process start to exit, including imports and writing
the outputs) and the engine's own preprocess/predict/total seconds from the provenance, with
the machine's load so a busy shared machine is visible in the numbers. Target: <= 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    import SimpleITK as sitk

    from weakseg.phantom.config import PhantomConfig
    from weakseg.phantom.head_oar import make_head_case

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="default-oar")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t1 = Path(tmp) / "head_t1.nii.gz"
        sitk.WriteImage(make_head_case(PhantomConfig(seed=201, physiology=False)).images["t1"], str(t1))
        walls, engine = [], []
        for repeat in range(args.repeats):
            out = Path(tmp) / f"out{repeat}"
            load = os.getloadavg()[0]
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "weakseg", "--quiet", "segment", "--t1", str(t1), "--model", args.model,
                            "--out", str(out), "--threads", str(args.threads), "--device", "cpu",
                            "--case-id", "bench"], check=True)
            walls.append(time.perf_counter() - start)
            provenance = json.loads(next(out.glob("*provenance*.json")).read_text())
            engine.append({**provenance["seconds"], "load_before": round(load, 2)})
    result = {"model": args.model, "threads": args.threads, "grid": "155 x 240 x 240, 1 mm", "wall_seconds": walls,
              "median_wall_seconds": round(statistics.median(walls), 2), "engine_seconds": engine,
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
