"""Bad input through the real command line: one line on stderr naming the file and the
problem, a non-zero exit, no traceback, nothing written. Plus the two warnings a usable
but imperfect study gives (resampling, a missing sequence)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.cli import build_parser
from weakseg.cli._case_args import case_from_args
from weakseg.errors import WeakSegError
from weakseg.methods import required_sequences
from weakseg.models.registry import registered_cards, runnable_models

ROOT = Path(__file__).resolve().parents[2]


def _volume(shape=(20, 32, 28), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), dtype=np.int16, seed=0) -> sitk.Image:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 1000, size=shape).astype(dtype)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


def _write(image: sitk.Image, path: Path) -> Path:
    sitk.WriteImage(image, str(path), useCompression=True)
    return path


def weakseg(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("WEAKSEG_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "weakseg", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- each bad input: (name, builder returning the CLI arguments and the file to be named, expected words)

def _missing_file(d: Path):
    return ["--flair", d / "absent_flair.nii.gz"], d / "absent_flair.nii.gz", "file not found"


def _missing_folder(d: Path):
    return [d / "no_such_case"], d / "no_such_case", "case folder not found"


def _mismatched(d: Path):
    flair = _write(_volume(), d / "flair.nii.gz")
    t1 = _write(_volume(origin=(400.0, 0.0, 0.0), seed=1), d / "t1.nii.gz")  # far away: no overlap
    return ["--flair", flair, "--t1", t1], t1, "covers only 0% of the flair extent"


def _nan(d: Path):
    image = _volume(dtype=np.float32)
    image[3, 4, 5] = float("nan")
    image[6, 7, 8] = float("inf")
    return ["--flair", _write(image, d / "flair.nii.gz")], d / "flair.nii.gz", "contains 2 NaN or infinite voxels"


def _two_d(d: Path):
    image = sitk.GetImageFromArray(np.ones((32, 28), np.int16))
    return ["--flair", _write(image, d / "slice.nii.gz")], d / "slice.nii.gz", "2D image (28x32)"


def _two_d_single_slice(d: Path):
    return ["--flair", _write(_volume(shape=(1, 32, 28)), d / "one.nrrd")], d / "one.nrrd", "2D image"


def _truncated_gz(d: Path):
    data = _write(_volume(), d / "full.nii.gz").read_bytes()
    bad = d / "flair.nii.gz"
    bad.write_bytes(data[: len(data) // 2])
    return ["--flair", bad], bad, "truncated .gz file"


def _short_nifti_in_complete_gz(d: Path):
    raw = gzip.decompress(_write(_volume(), d / "full.nii.gz").read_bytes())
    bad = d / "flair.nii.gz"
    bad.write_bytes(gzip.compress(raw[: len(raw) // 3]))
    return ["--flair", bad], bad, "truncated NIfTI file"


def _corrupt_gz(d: Path):
    data = bytearray(_write(_volume(), d / "full.nii.gz").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\x00" * 8
    bad = d / "flair.nii.gz"
    bad.write_bytes(bytes(data))
    return ["--flair", bad], bad, "corrupt .gz file"


def _text_as_nifti(d: Path):
    bad = d / "flair.nii.gz"
    bad.write_text("patient notes, not an image\n")
    return ["--flair", bad], bad, "not gzip-compressed"


def _garbage_in_gzip_nifti(d: Path):
    bad = d / "flair.nii.gz"
    bad.write_bytes(gzip.compress(np.random.default_rng(0).bytes(4000)))
    return ["--flair", bad], bad, "not a NIfTI image"


def _garbage_nrrd(d: Path):
    bad = d / "flair.nrrd"
    bad.write_bytes(np.random.default_rng(1).bytes(4000))
    return ["--flair", bad], bad, "not an NRRD image"


def _truncated_nrrd(d: Path):
    data = _write(_volume(), d / "full.nrrd").read_bytes()
    bad = d / "flair.nrrd"
    bad.write_bytes(data[: len(data) // 2])
    return ["--flair", bad], bad, "corrupt or truncated NRRD"


def _truncated_mha(d: Path):
    full = d / "full.mha"
    sitk.WriteImage(_volume(), str(full), useCompression=False)
    data = full.read_bytes()
    bad = d / "flair.mha"
    bad.write_bytes(data[: len(data) - 500])
    return ["--flair", bad], bad, "truncated image data"


def _empty_file(d: Path):
    bad = d / "flair.nii"
    bad.write_bytes(b"")
    return ["--flair", bad], bad, "is empty"


def _bad_labels(d: Path):
    flair = _write(_volume(), d / "flair.nii.gz")
    labels = d / "seg.nii.gz"
    labels.write_bytes(_write(_volume(dtype=np.uint8), d / "full.nii.gz").read_bytes()[:300])
    return ["--flair", flair, "--labels", labels], labels, "truncated .gz file"


def _nan_nrrd(d: Path):
    image = _volume(dtype=np.float64)
    image[1, 2, 3] = float("nan")
    return ["--flair", _write(image, d / "flair.nrrd")], d / "flair.nrrd", "contains 1 NaN or infinite voxels"


# The list runs through the real command (a subprocess each, ~2 s); the other
# variants go through the same loader in-process, which is what the command calls.
CLI_CASES = [_missing_file, _mismatched, _nan, _two_d, _truncated_gz, _text_as_nifti, _garbage_nrrd]
LOADER_CASES = [_missing_folder, _two_d_single_slice, _short_nifti_in_complete_gz, _corrupt_gz, _garbage_in_gzip_nifti,
                _truncated_nrrd, _truncated_mha, _empty_file, _bad_labels, _nan_nrrd]


@pytest.mark.parametrize("build", CLI_CASES, ids=lambda f: f.__name__.strip("_"))
def test_bad_input_gives_one_line_error(build, tmp_path):
    inputs, work = tmp_path / "in", tmp_path / "work"
    inputs.mkdir()
    work.mkdir()
    args, named, words = build(inputs)
    before = _listing(inputs)
    result = weakseg("info", *args, cwd=work)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("weakseg: error: ")
    assert str(named) in lines[0] and words in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert _listing(inputs) == before and _listing(work) == []


@pytest.mark.parametrize("build", LOADER_CASES, ids=lambda f: f.__name__.strip("_"))
def test_bad_input_is_refused_by_the_loader(build, tmp_path):
    args, named, words = build(tmp_path)
    parser = build_parser()
    with pytest.raises(WeakSegError) as info:
        case_from_args(parser.parse_args(["info", *map(str, args)]))
    message = str(info.value)
    assert "\n" not in message and info.value.path == str(named) and words in message, message


def test_resampled_sequence_warns_and_keeps_reference_grid(tmp_path):
    flair = _write(_volume(), tmp_path / "flair.nii.gz")
    # the same head sampled at 2 mm and shifted by half a voxel: overlaps, different grid
    t2 = _write(_volume(shape=(10, 16, 14), spacing=(2.0, 2.0, 2.0), origin=(0.5, 0.5, 0.5), seed=2), tmp_path / "t2.nii.gz")
    result = weakseg("info", "--flair", flair, "--t2", t2, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "weakseg: warning: t2 resampled onto the flair grid (14x16x10 -> 28x32x20 voxels)" in result.stderr.splitlines()
    assert '"size": [\n    28,\n    32,\n    20\n  ]' in result.stdout


def test_missing_sequence_reports_the_models_that_can_run(tmp_path):
    flair = _write(_volume(), tmp_path / "flair.nii.gz")
    t1 = _write(_volume(seed=3), tmp_path / "t1.nii.gz")
    result = weakseg("info", "--flair", flair, "--t1", t1, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warning = next(line for line in result.stderr.splitlines() if "missing sequence" in line)
    assert warning.startswith("weakseg: warning: missing sequence(s) t1c, t2; installed models that can run on it: ")
    runnable = warning.split("can run on it: ")[1].split(", ")
    for folder, card in registered_cards():
        assert (card.id in runnable) == (set(card.sequences) <= {"flair", "t1"}), card.id
    assert "default-oar" in runnable and "default-tumour" not in runnable  # the OAR model needs T1 alone
    assert "missing      t1c, t2" in result.stdout


def test_bad_dicom_series_gives_one_line_error(tmp_path):
    from test_dicom_read import _volume as dicom_volume, write_series

    write_series(dicom_volume(8), tmp_path / "dicom", "AX FLAIR",
                 edit=lambda ds, k: setattr(ds, "NumberOfFrames", 4) if k == 0 else None)
    work = tmp_path / "work"
    work.mkdir()
    result = weakseg("info", tmp_path / "dicom", cwd=work)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and str(tmp_path / "dicom") in lines[0] and "multi-frame image (4 frames)" in lines[0], lines
    assert _listing(work) == []


def test_quiet_load_keeps_warnings_for_a_caller_that_may_refuse_the_case(tmp_path):
    """A command that needs all four sequences loads quietly, so its refusal stays one line."""
    import logging

    from weakseg.io.case import load_case

    flair = _write(_volume(), tmp_path / "flair.nii.gz")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("weakseg")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        case = load_case(sequences={"flair": flair}, log_warnings=False)
        assert records == [] and any("missing sequence(s) t1, t1c, t2" in w for w in case.warnings)
        expected = ", ".join(runnable_models(["flair"])) or "none"
        with pytest.raises(WeakSegError, match=f"lacks sequence.*installed models that can run on it: {expected}$"):
            case.require(required_sequences()["mixed"])
        load_case(sequences={"flair": flair})
        assert [r.getMessage() for r in records] == case.warnings
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _two_cases(root: Path) -> Path:
    for name in ("A", "B"):
        (root / name).mkdir(parents=True)
        _write(_volume(), root / name / f"{name}_flair.nii.gz")
    return root


@pytest.mark.parametrize("build", [
    lambda d: (["info", "--flair", d / ("x" * 300 + ".nii.gz")], "file name too long"),
    lambda d: (["manifest", "create", _two_cases(d / "data"), "--out", d / "a_file" / "m.json", "--folds", "2"], d / "a_file"),
    lambda d: (["labels", "set-range", d / "a_file", "1", "2", "--class", "WT"], "case folder not found"),
    lambda d: (["labels", "set-range", d, "1", "2", "--class", "a\x01b"], "--class"),
])
def test_operating_system_errors_are_bad_input_naming_the_path(tmp_path, build):
    """ENAMETOOLONG, ENOTDIR and friends are the user's files, not bugs: exit 2, one line, no traceback."""
    (tmp_path / "a_file").write_text("not a folder")
    args, expected = build(tmp_path)
    proc = weakseg(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert str(expected) in proc.stderr, proc.stderr
