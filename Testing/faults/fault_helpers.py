"""Helpers of the fault-injection suite: run the real CLI and worker, snapshot folders, mount a tiny disk."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env(**extra: str) -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}
    out.pop("WEAKSEG_DEBUG", None)
    return out


def weakseg(*args, timeout: float = 120, **extra) -> subprocess.CompletedProcess:
    """The real command line in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "weakseg", *map(str, args)], env=env(**extra), capture_output=True,
                          text=True, timeout=timeout)


def start_weakseg(*args, **extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "weakseg", *map(str, args)], env=env(**extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def worker(kind: str, parameters: dict, tmp: Path, timeout: float = 120, **extra) -> tuple[int, list[dict], str]:
    """Run one worker job; (exit code, events, stderr)."""
    job = tmp / f"job-{uuid.uuid4().hex[:8]}.json"
    job.write_text(json.dumps({"kind": kind, "parameters": parameters}))
    return run_job(job, timeout, **extra)


def run_job(job: Path, timeout: float = 120, **extra) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, "-m", "weakseg.worker", str(job)], env=env(**extra), capture_output=True,
                          text=True, timeout=timeout)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, events, proc.stderr


def snapshot(folder: Path) -> dict[str, str]:
    """{relative path: SHA-256} of every file below ``folder`` (hidden ones included)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def assert_one_line_error(proc_stderr: str, *words: str) -> None:
    """Exactly one error line (warnings may precede it), no traceback, naming ``words``."""
    lines = [line for line in proc_stderr.strip().splitlines() if line.strip() and "warning:" not in line]
    assert len(lines) == 1, proc_stderr
    assert "Traceback" not in proc_stderr and "internal error" not in proc_stderr, proc_stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def assert_no_partial(folder: Path) -> None:
    """Every file under a final (non-hidden) name below ``folder`` is complete; no temp file under a final name."""
    from weakseg.io.image import verify_written

    for path in Path(folder).rglob("*"):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts):
            verify_written(path)
            if path.suffix == ".json":
                json.loads(path.read_text())


@contextlib.contextmanager
def tiny_disk(path: Path, size: str, *, read_only: bool = False):
    """A tmpfs of ``size`` at ``path`` (root only); yields None when it cannot be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0
    try:
        yield path if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path, leave_bytes: int) -> None:
    """Fill the file system of ``folder`` until about ``leave_bytes`` are free."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with open(folder / "filler.bin", "wb") as handle:
        remaining = max(free - leave_bytes, 0)
        chunk = b"\0" * 65536
        while remaining > 0:
            try:
                handle.write(chunk[: min(len(chunk), remaining)])
                handle.flush()
            except OSError:
                break
            remaining -= len(chunk)


def cli(capsys, *args) -> tuple[int, str]:
    """The real command line in this interpreter (no start-up cost): (exit code, stderr)."""
    from weakseg.cli import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = exc.code
    return code, capsys.readouterr().err
