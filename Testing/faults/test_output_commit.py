"""The output writer's commit: a writer killed in the middle of its renames leaves a set the next writer
completes (never a mixed set), and one killed before its commit marker leaves the old set untouched."""

from __future__ import annotations

import subprocess
import sys

from fault_helpers import ROOT, env

from weakseg.io.output_set import STAGING_PREFIX, OutputSet

WRITER = r"""
import os, sys
from weakseg.io.output_set import OutputSet
out, version, die_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
real_replace, calls = os.replace, []
def replace(a, b):
    calls.append(b)
    if len(calls) > die_after:
        os._exit(9)  # killed between two renames of the commit
    real_replace(a, b)
os.replace = replace
files = {k: f"case_{k}.txt" for k in ("labels", "montage", "provenance")}
with OutputSet(files, out_dir=out) as outputs:
    for kind in files:
        outputs.path(kind).write_text(version)
        if die_after < 0:
            os._exit(9)  # killed while writing: before the commit marker
"""


def _write(out, version: str, die_after: int = 99) -> int:
    return subprocess.run([sys.executable, "-c", WRITER, str(out), version, str(die_after)], env=env(), cwd=ROOT).returncode


def _contents(out) -> dict[str, str]:
    return {p.name: p.read_text() for p in out.iterdir() if not p.name.startswith(".")}


def test_a_commit_killed_between_renames_is_completed_by_the_next_writer(tmp_path):
    out = tmp_path / "out"
    assert _write(out, "old") == 0
    assert set(_contents(out).values()) == {"old"}
    assert _write(out, "new", die_after=1) == 9  # one file renamed, then killed: mixed on disk for now
    assert sorted(set(_contents(out).values())) == ["new", "old"]
    OutputSet({"other": "other.txt"}, out_dir=out).__enter__()._abort()  # any later writer in the folder recovers
    assert set(_contents(out).values()) == {"new"}, "the interrupted set was not completed"
    assert not [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]


def test_a_writer_killed_before_its_commit_leaves_the_old_set(tmp_path):
    out = tmp_path / "out"
    assert _write(out, "old") == 0
    before = _contents(out)
    assert _write(out, "new", die_after=-1) == 9
    assert _contents(out) == before
    assert [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)], "expected the dead writer's staging"
    with OutputSet({"other": "other.txt"}, out_dir=out) as outputs:
        outputs.path("other").write_text("x")
    assert _contents(out) == {**before, "other.txt": "x"}  # the dead writer's files were discarded, not committed
    assert not [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]
