"""Training speed in float32 and with ``cpu_bfloat16`` (bfloat16 convolutions on AMX / AVX512-BF16).

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/bench_train_precision.py [--iterations 40] [--repeats 2]
        [--configs recipe-2d std-3d] [--json docs/results/cpu-bfloat16-bench.json]

Each run is the real training engine (``weakseg.training.train``) on 5 of the BraTS development cases
(``../shared/data/brats18``; the benchmark exits when they are absent) with a tumour cross-validation
configuration (``experiments.tumour_cv.CONFIGS``), one thread, for ``--iterations`` iterations; the
seconds per iteration are the engine's own (its last logged rate, after the first iterations' warm-up).
Precisions alternate (float32, bfloat16, float32, ...) so a change in the machine's load hits both.
The load average is recorded before every run: on a shared 2-core machine the ratio is the number to read.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / ".." / "shared" / "data" / "brats18"


def one_run(config_name: str, bfloat16: bool, iterations: int, work: Path, cache: Path) -> float:
    """Seconds per iteration of one training run."""
    from experiments import tumour_cv as cv
    from weakseg.training import train
    from weakseg.training.config import TrainConfig
    from weakseg.training.events import read_events

    spec = cv.CONFIGS[config_name]
    cases = sorted(p.name for p in DATA.iterdir() if p.is_dir())[:5]
    out = work / f"{config_name}-{'bf16' if bfloat16 else 'fp32'}-{time.time_ns()}"
    config = TrainConfig(method=spec.method, dataset=str(DATA), out=str(out), iterations=iterations, seed=cv.SEED,
                         train_cases=cases, checkpoint_every=10**6, log_every=10, device="cpu", threads=1,
                         cache_dir=str(cache), progress_bar=False, model_id="bench", method_options=spec.options(),
                         cpu_bfloat16=bfloat16)
    train(config)
    rates = [e["seconds_per_iteration"] for e in read_events(out / "events.jsonl") if e["event"] == "iteration"]
    return rates[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["recipe-2d", "std-3d"])
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "weakseg-bench-cache"))
    parser.add_argument("--json", default=str(ROOT / "docs" / "results" / "cpu-bfloat16-bench.json"))
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"bench_train_precision: {DATA} is absent; nothing to measure", file=sys.stderr)
        return 1
    from weakseg.inference.fast_network import native_bfloat16

    if not native_bfloat16():
        print("bench_train_precision: this CPU has no native bfloat16; cpu_bfloat16 would train in float32",
              file=sys.stderr)
        return 1
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            runs = []
            for _ in range(args.repeats):
                for bf16 in (False, True):
                    load = os.getloadavg()[0]
                    rate = one_run(name, bf16, args.iterations, Path(tmp), Path(args.cache))
                    runs.append({"precision": "bfloat16" if bf16 else "float32", "seconds_per_iteration": rate,
                                 "load_before": round(load, 2)})
                    print(f"{name} {runs[-1]}", flush=True)
            fp32 = statistics.median(r["seconds_per_iteration"] for r in runs if r["precision"] == "float32")
            bf16 = statistics.median(r["seconds_per_iteration"] for r in runs if r["precision"] == "bfloat16")
            results[name] = {"runs": runs, "float32_median": fp32, "bfloat16_median": bf16,
                             "speedup": round(fp32 / bf16, 2)}
    record = {"command": "OMP_NUM_THREADS=1 nice -n 5 python benchmarks/bench_train_precision.py "
                         + " ".join(argv if argv is not None else sys.argv[1:]),
              "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu": platform.processor() or
              platform.machine(), "cores": os.cpu_count(), "iterations": args.iterations, "results": results}
    from weakseg.io.atomic import write_text_atomic

    write_text_atomic(Path(args.json), json.dumps(record, indent=2) + "\n")
    for name, r in results.items():
        print(f"{name}: float32 {r['float32_median']:.3f} s/it, bfloat16 {r['bfloat16_median']:.3f} s/it, "
              f"{r['speedup']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
