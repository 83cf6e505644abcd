"""``weakseg segment --t1 HEAD --model default-oar`` on 1 mm heads: wall time of a fresh process.

    nice -n 5 python benchmarks/bench_oar.py [--repeats 3] [--threads N] [--model default-oar]
        [--json docs/results/oar-bench.json] [--markdown docs/results/oar-bench.md]

Two heads: the real skull-stripped T1 in ../shared/data/oar/voxelmorph (160 x 192 x 224, 1 mm;
skipped when absent) and a phantom head at 1 mm (155 x 240 x 240, skull on, written once to a
temporary folder). Each run is the issue's command in a new process (imports, reading,
inference, post-processing and writing every output included); without ``--threads`` the
engine picks the threads itself (the idle cores by the load average, as a user's run would).
Reports every wall time, the median, the child's CPU seconds (user + sys: what an idle machine
would need, spread over its threads), the engine's own stage seconds and threads from the
provenance, and the load average before each run, so a busy shared machine shows in the numbers.
Target (issue 15): <= 20 s on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 20.0
REAL_T1 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "oar" / "voxelmorph" / "test_scan_T1.nii.gz"


def heads(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name → (T1 path, grid description)."""
    import SimpleITK as sitk

    from weakseg.phantom.config import PhantomConfig
    from weakseg.phantom.head_oar import make_head_case

    out = {}
    if REAL_T1.is_file():
        out["real T1 (voxelmorph, skull-stripped)"] = (REAL_T1.resolve(), "160 x 192 x 224, 1 mm")
    phantom = tmp / "head_t1.nii.gz"
    sitk.WriteImage(make_head_case(PhantomConfig(seed=201, physiology=False)).images["t1"], str(phantom))
    out["phantom head 201 (skull on)"] = (phantom, "155 x 240 x 240, 1 mm")
    return out


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_segment(t1: Path, out: Path, model: str, threads: int | None) -> dict:
    command = [sys.executable, "-m", "weakseg", "--quiet", "segment", "--t1", str(t1), "--model", model,
               "--out", str(out), "--device", "cpu", "--case-id", "bench"]
    if threads:
        command += ["--threads", str(threads)]
    load = os.getloadavg()[0]
    cpu = child_cpu_seconds()
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    provenance = json.loads(next(out.glob("*provenance*.json")).read_text())
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(child_cpu_seconds() - cpu, 2),
            "load_before": round(load, 2), "threads": provenance.get("threads"),
            "precision": provenance.get("network_precision"), "engine_seconds": provenance["seconds"]}


def markdown(result: dict) -> str:
    lines = ["## Wall time of the issue's command", "",
             f"Target: <= {TARGET_SECONDS:.0f} s wall on this 2-core CPU. Measured {result['date']} on "
             f"{result['cpu']} ({result['cores']} cores), a machine shared with other engineers and background "
             "trainings (never stopped for the benchmark), so the load average is part of every number.", "",
             "Command (each run a fresh process, outputs written):", "", "```",
             result["command"], "```", "",
             "| head | grid | runs | median wall (s) | walls (s) | CPU s (user+sys) | threads | load before | "
             "network+rules (s) | target met |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, head in result["heads"].items():
        runs = head["runs"]
        lines.append(
            f"| {name} | {head['grid']} | {len(runs)} | {head['median_wall_seconds']} | "
            f"{', '.join(str(r['wall_seconds']) for r in runs)} | {', '.join(str(r['cpu_seconds']) for r in runs)} | "
            f"{', '.join(str(r['threads']) for r in runs)} | {', '.join(str(r['load_before']) for r in runs)} | "
            f"{', '.join(str(r['engine_seconds']['predict']) for r in runs)} | "
            f"{'yes' if head['median_wall_seconds'] <= TARGET_SECONDS else 'no'} |")
    lines += ["", "CPU seconds are what the run cost the machine; on an idle 2-core CPU the wall time is about "
              "the CPU seconds spread over 2 threads plus ~2 s of single-threaded imports, reading and writing.",
              "Without `--threads` the engine uses the cores the load average leaves idle (1 on this busy "
              "machine): two OpenMP threads on two cores already running trainings spin at every barrier and "
              "were 2-3x slower than one in the A/B runs above.", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="pass --threads to the command (default: the engine picks)")
    parser.add_argument("--model", default="default-oar")
    parser.add_argument("--json", help="write the result here")
    parser.add_argument("--markdown", help="write the result table here (replaces the file's generated part)")
    args = parser.parse_args()
    result = {"model": args.model, "target_seconds": TARGET_SECONDS, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              "command": f"python -m weakseg --quiet segment --t1 T1 --model {args.model} --out OUT --device cpu"
                         + (f" --threads {args.threads}" if args.threads else ""),
              "heads": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (t1, grid) in heads(Path(tmp)).items():
            runs = [time_segment(t1, Path(tmp) / f"out-{len(result['heads'])}-{r}", args.model, args.threads)
                    for r in range(args.repeats)]
            result["heads"][name] = {"grid": grid, "runs": runs,
                                     "median_wall_seconds": round(statistics.median(r["wall_seconds"] for r in runs), 2),
                                     "target_met": statistics.median(r["wall_seconds"] for r in runs) <= TARGET_SECONDS}
            print(name, json.dumps(result["heads"][name]), flush=True)
    result["load_after"] = round(os.getloadavg()[0], 2)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        path = Path(args.markdown)
        marker = "<!-- generated by benchmarks/bench_oar.py: everything below is replaced on each run -->"
        head = path.read_text().split(marker)[0] if path.is_file() and marker in path.read_text() else ""
        path.write_text(head + marker + "\n\n" + markdown(result))


if __name__ == "__main__":
    main()
