"""Benchmark ``weakseg segment`` end to end (load -> files written) against MONAI's SegResNet peer.

Each run is a fresh subprocess, so the time includes Python start-up, imports, model loading,
reading the four sequences, inference and writing every output; peak memory is the child's
maximum resident set size (``os.wait4`` rusage). The peer (``peer_monai_segresnet.py``) runs
the same way on the same case. Results go to ``docs/results/segment-benchmark.{md,json}``.

    python benchmarks/bench_segment.py [--case DIR] [--repeats 3] [--device cpu|cuda|auto] [--threads N]

Targets (issue 11): <= 10 s and <= 2 GB on the 2-core CPU of the development machine, and at most a
quarter of the MONAI SegResNet peer's wall time in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean, median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_CASE = ROOT.parent / "shared" / "data" / "brats18" / "Brats18_2013_11_1"
RESULTS = ROOT / "docs" / "results"
TARGET_S, TARGET_GB, TARGET_PEER_RATIO = 10.0, 2.0, 0.25


@dataclass
class Run:
    """One subprocess: wall time, CPU time and peak RSS of the child."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    outputs: list[str] = field(default_factory=list)
    load_before: float = 0.0
    stages: dict = field(default_factory=dict)


def timed_subprocess(cmd: list[str], out_dir: Path, log: Path) -> Run:
    """Run ``cmd`` to completion; measure it with ``wait4`` so only this child is counted."""
    load = os.getloadavg()[0]
    with open(log, "wb") as handle:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    outputs = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file()) if out_dir.exists() else []
    stages = {}
    for prov in out_dir.glob("*_provenance.json") if out_dir.exists() else []:
        try:
            stages = json.loads(prov.read_text()).get("seconds", {})
        except (OSError, ValueError):
            pass
    return Run(round(wall, 2), round(usage.ru_utime + usage.ru_stime, 2), round(usage.ru_maxrss / 1024.0, 1),
               proc.returncode, outputs, round(load, 2), stages)


def summarise(runs: list[Run]) -> dict:
    ok = [r for r in runs if r.returncode == 0]
    if not ok:
        return {"ok_runs": 0}
    walls = [r.wall_s for r in ok]
    return {"ok_runs": len(ok), "wall_s_median": round(median(walls), 2), "wall_s_min": min(walls),
            "wall_s_mean": round(mean(walls), 2), "cpu_s_median": round(median(r.cpu_s for r in ok), 2),
            "peak_rss_mb_max": max(r.peak_rss_mb for r in ok)}


def machine_info(device: str) -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "device": device}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import monai

        info["monai"] = monai.__version__
    except ImportError:
        info["monai"] = None
    return info


MODEL = "default"
THREADS: int | None = None
"""``--threads`` for weakseg (None: the engine's choice by the load average, which the benchmark's own
back-to-back runs keep near 1 on 2 cores, so it picks 1 thread while the peer takes torch's default)."""


def weakseg_command(case: Path, out: Path, device: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "weakseg", "segment", str(case), "--model", MODEL, "--out", str(out)]
    return cmd + (["--device", device] if device else []) + (["--threads", str(THREADS)] if THREADS else [])


def peer_command(case: Path, out: Path, device: str | None) -> list[str]:
    return [sys.executable, str(ROOT / "benchmarks" / "peer_monai_segresnet.py"), str(case), "--out", str(out),
            "--device", device or "cpu"]


def bench(name: str, make_cmd, case: Path, repeats: int, device: str | None, scratch: Path) -> tuple[list[Run], str]:
    runs = []
    for i in range(repeats):
        out = scratch / f"{name}-{i}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = make_cmd(case, out, device)
        run = timed_subprocess(cmd, out, scratch / f"{name}-{i}.log")
        print(f"{name} run {i + 1}/{repeats}: {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s CPU, "
              f"{run.peak_rss_mb:.0f} MB peak RSS, exit {run.returncode}, load before {run.load_before}", flush=True)
        if run.returncode != 0:
            print((scratch / f"{name}-{i}.log").read_text()[-2000:], file=sys.stderr)
        runs.append(run)
    shown = " ".join(shlex.quote(c) for c in make_cmd(case, Path("OUT"), device))
    return runs, shown.replace(sys.executable, "python").replace(str(ROOT) + "/", "").replace(str(ROOT.parent) + "/", "../")


def report(result: dict) -> str:
    w, p, m = result["weakseg"], result.get("peer"), result["machine"]
    lines = [
        "# `weakseg segment` benchmark",
        "",
        f"Produced by `python benchmarks/bench_segment.py {result['argv']}` on {result['date']} "
        f"(code version `{result['code_version']}`). Raw numbers: `segment-benchmark.json`.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; device `{m['device']}`"
        + (f", GPU {m['gpu']}" if m.get("gpu") else ""),
        f"- Python {m['python']}, torch {m['torch']} ({m['torch_threads']} threads), MONAI {m['monai']}",
        f"- 1-minute load average before each run: {', '.join(str(r['load_before']) for r in result['weakseg_runs'] + result.get('peer_runs', []))} "
        "(the machine is shared; load above ~0 means other jobs competed for the 2 cores).",
        "",
        f"## Case\n\n`{result['case']}` (240×240×155, 4 sequences). It is one of the development cases the "
        "default model was trained on, so this measures speed and memory, not accuracy.",
        "",
        "## Commands (each run is a fresh process: start-up, imports, model load, read, infer, write)",
        "",
        f"- weakseg: `{result['weakseg_command']}`",
        f"- peer: `{result.get('peer_command', 'not run')}`",
        "",
        "## Results",
        "",
        "| pipeline | runs ok | wall median (s) | wall min (s) | CPU time median (s) | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for label, s in ((f"weakseg segment (model `{result.get('model', 'default')}`)", w), ("MONAI SegResNet peer", p)):
        if s and s.get("ok_runs"):
            lines.append(f"| {label} | {s['ok_runs']} | {s['wall_s_median']} | {s['wall_s_min']} | "
                         f"{s['cpu_s_median']} | {s['peak_rss_mb_max']:.0f} |")
        elif s is not None:
            lines.append(f"| {label} | 0 | – | – | – | – |")
    lines.append("")
    if w.get("ok_runs"):
        ok_t = w["wall_s_median"] <= TARGET_S
        ok_m = w["peak_rss_mb_max"] <= TARGET_GB * 1024
        lines.append(f"Targets: ≤ {TARGET_S:.0f} s → **{'met' if ok_t else 'missed'}** ({w['wall_s_median']} s); "
                     f"≤ {TARGET_GB:.0f} GB → **{'met' if ok_m else 'missed'}** ({w['peak_rss_mb_max'] / 1024:.2f} GB).")
    if w.get("ok_runs") and p and p.get("ok_runs"):
        lines.append("")
        ratio = w['wall_s_median'] / p['wall_s_median']
        lines.append(f"Ratio weakseg / peer: wall time {ratio:.2f}× (target ≤ {TARGET_PEER_RATIO}×: "
                     f"**{'met' if ratio <= TARGET_PEER_RATIO else 'missed'}**), "
                     f"peak memory {w['peak_rss_mb_max'] / p['peak_rss_mb_max']:.2f}× "
                     f"(peer is {p['wall_s_median'] / w['wall_s_median']:.1f}× slower, "
                     f"uses {p['peak_rss_mb_max'] / w['peak_rss_mb_max']:.1f}× the memory).")
    stages = result["weakseg_runs"][-1].get("stages") if result["weakseg_runs"] else None
    if stages:
        lines += ["", "Inside the last weakseg run (its provenance JSON): "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items())
                  + "; the rest of the wall time is interpreter start-up, imports, reading the case and writing the outputs."]
    lines += ["", "Outputs written by the last weakseg run: " + ", ".join(f"`{o}`" for o in result["weakseg_runs"][-1]["outputs"]),
              "", "## Notes", "",
              "- The peer is MONAI's BraTS bundle architecture (`SegResNet(blocks_down=[1,2,2,4], blocks_up=[1,1,1], "
              "init_filters=16, in_channels=4, out_channels=3)`) with the bundle's preprocessing (RAS, 1 mm, channel-wise "
              "non-zero z-score) and `sliding_window_inference` (roi 240×240×160, overlap 0.5, sw_batch_size 1), writing "
              "the masks as NIfTI. Its weights are randomly initialised (seeded): time and memory do not depend on "
              "weight values, so no trained bundle is downloaded.",
              "- Peak memory is the child process's maximum resident set size from `wait4` (what `/usr/bin/time -v` reports).",
              "- MONAI is a benchmark-only dependency; without it the peer is reported as skipped."]
    for note in result.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def code_version() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return rev + ("+uncommitted" if dirty else "")
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", type=Path, default=DEFAULT_CASE, help="BraTS case folder (240x240x155)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None, choices=("cpu", "cuda", "auto"),
                        help="passed to both pipelines (default: weakseg's own policy, peer on CPU)")
    parser.add_argument("--model", default="default", help="model id or folder for weakseg segment (default: default)")
    parser.add_argument("--no-peer", action="store_true", help="skip the MONAI peer")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for segment-benchmark.{md,json}")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report's notes")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for weakseg segment (default: its own choice; the peer uses torch's default)")
    args = parser.parse_args(argv)
    global MODEL, THREADS
    MODEL, THREADS = args.model, args.threads
    if not args.case.is_dir():
        print(f"bench_segment: skipped (case folder {args.case} not found)")
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="weakseg-bench-"))
    result = {"argv": " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "code_version": code_version(),
              "case": args.case.name, "model": args.model, "machine": machine_info(args.device or "weakseg default policy (auto: CUDA if present, else CPU); peer on CPU"), "notes": args.note}
    try:
        runs, shown = bench("weakseg", weakseg_command, args.case, args.repeats, args.device, scratch)
        result.update(weakseg_runs=[asdict(r) for r in runs], weakseg=summarise(runs), weakseg_command=shown)
        if not args.no_peer:
            try:
                import monai  # noqa: F401
            except ImportError:
                print("bench_segment: MONAI not installed; peer skipped")
                result["notes"].append("MONAI not installed: peer skipped.")
            else:
                runs, shown = bench("peer", peer_command, args.case, args.repeats, args.device, scratch)
                result.update(peer_runs=[asdict(r) for r in runs], peer=summarise(runs), peer_command=shown)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    args.results.mkdir(parents=True, exist_ok=True)
    from weakseg.io.atomic import write_text_atomic

    write_text_atomic(args.results / "segment-benchmark.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(args.results / "segment-benchmark.md", report(result))
    print(f"wrote {args.results / 'segment-benchmark.md'} and segment-benchmark.json")
    return 0 if result["weakseg"].get("ok_runs") else 1


if __name__ == "__main__":
    sys.exit(main())
