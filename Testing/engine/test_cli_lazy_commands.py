"""`weakseg <command>` imports only that command's module; help and unknown commands list them all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from weakseg.cli import build_parser, command_modules


def _imported_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_segment_imports_no_other_command():
    modules = _imported_after("from weakseg.cli import build_parser; build_parser('segment')")
    commands = {m for m in modules if m.startswith("weakseg.cli.") and not m.startswith("weakseg.cli._")}
    assert commands == {"weakseg.cli.segment"}
    assert not any(m.startswith("weakseg.phantom") for m in modules)  # only `weakseg phantom` needs the phantoms


@pytest.mark.parametrize("command", [None, "no-such-command"])
def test_every_command_is_listed_without_a_known_command(command):
    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(command_modules())
    assert {"segment", "train", "export-rtstruct", "phantom"} <= set(sub.choices)


def test_a_known_command_parses_as_with_the_full_parser():
    argv = ["segment", "--flair", "f.nii.gz", "--out", "o", "--tta"]
    lazy = build_parser("segment").parse_args(argv)
    full = build_parser().parse_args(argv)
    assert {k: v for k, v in vars(lazy).items() if k != "func"} == {k: v for k, v in vars(full).items() if k != "func"}


def test_top_level_options_before_the_command_still_find_it():
    result = subprocess.run([sys.executable, "-m", "weakseg", "-q", "segment", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "usage: weakseg segment" in result.stdout
