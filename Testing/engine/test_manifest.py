"""Dataset manifest: case discovery, reproducible stratified folds, file hashes and their verification."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.cli import main
from weakseg.errors import WeakSegError
from weakseg.labels import Grid, WeakLabelStore
from weakseg.labels.manifest import build_manifest, load_manifest, write_manifest

GRID = Grid((6, 5, 4), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))


def make_dataset(root: Path, names: list[str], *, seg_every: int = 3, weak_every: int = 4) -> None:
    """Tiny BraTS-named cases named caseNN; every ``seg_every``-th NN has a seg, every ``weak_every``-th slice labels.

    Cases are created in the order given, and every fifth one created goes one folder deeper.
    """
    for position, name in enumerate(names):
        k = int(name[4:])
        folder = root / "site" / name if position % 5 == 0 else root / name
        folder.mkdir(parents=True)
        for seq in ("flair", "t1", "t1ce", "t2"):
            value = np.full(GRID.shape, k + 1, np.int16)
            sitk.WriteImage(GRID.image(value), str(folder / f"{name}_{seq}.nii.gz"))
        if k % seg_every == 0:
            sitk.WriteImage(GRID.image(np.ones(GRID.shape, np.uint8)), str(folder / f"{name}_seg.nii.gz"))
        if k % weak_every == 0:
            store = WeakLabelStore.open(folder)
            store.set_slice_range("WT", "axial", 1, 2)
            store.save()


NAMES = [f"case{k:02d}" for k in range(23)]


def test_folds_are_reproducible_disjoint_covering_and_balanced(tmp_path):
    make_dataset(tmp_path / "a", NAMES)
    m1 = build_manifest(tmp_path / "a", folds=5, seed=7)
    m2 = build_manifest(tmp_path / "a", folds=5, seed=7)
    assert m1.folds == m2.folds
    assert build_manifest(tmp_path / "a", folds=5, seed=8).folds != m1.folds
    flat = [c for fold in m1.folds for c in fold]
    assert sorted(flat) == sorted(NAMES) and len(flat) == len(set(flat))  # disjoint and covering
    sizes = [len(f) for f in m1.folds]
    assert max(sizes) - min(sizes) <= 1
    # stratified: each label-kind group spreads over the folds within one case
    groups: dict[tuple, list[str]] = {}
    for entry in m1.cases:
        groups.setdefault(tuple(entry.label_kinds), []).append(entry.id)
    assert len(groups) >= 3
    for members in groups.values():
        per_fold = [len(set(members) & set(f)) for f in m1.folds]
        assert max(per_fold) - min(per_fold) <= 1
    for k in range(5):
        train, held = m1.split(k)
        assert set(train) | set(held) == set(NAMES) and not set(train) & set(held)


def test_folds_do_not_depend_on_creation_order(tmp_path):
    make_dataset(tmp_path / "a", NAMES)
    make_dataset(tmp_path / "b", list(reversed(NAMES)))  # same cases, created in the other order, nested differently
    a, b = build_manifest(tmp_path / "a", 4, 0), build_manifest(tmp_path / "b", 4, 0)
    assert [c.path for c in a.cases] != [c.path for c in b.cases]
    assert a.folds == b.folds


def test_entries_record_sequences_kinds_status_and_hashes(tmp_path):
    make_dataset(tmp_path, NAMES[:6])
    m = build_manifest(tmp_path, folds=2, seed=0)
    c0, c1, c3 = m.case("case00"), m.case("case01"), m.case("case03")
    assert c0.path == "site/case00" and c1.path == "case01"
    assert c0.sequences == ["t1", "t1c", "t2", "flair"]
    assert c0.label_kinds == ["slices", "full"] and c0.status == "partial"  # the store's status
    assert c1.label_kinds == [] and c1.status == "not started"
    assert c3.label_kinds == ["full"] and c3.status == "complete"
    for rel, digest in c0.files.items():
        assert hashlib.sha256((tmp_path / rel).read_bytes()).hexdigest() == digest
    assert any(rel.startswith("site/case00/weaklabels/") for rel in c0.files)  # the sidecar is hashed too
    assert len(c1.files) == 4


def test_write_load_and_verify(tmp_path):
    root = tmp_path / "data"
    make_dataset(root, NAMES[:8])
    path = write_manifest(build_manifest(root, 3, 1), tmp_path / "out" / "manifest.json")
    loaded = load_manifest(path, verify=True)
    assert loaded.root.resolve() == root.resolve()
    assert loaded.folds == build_manifest(root, 3, 1).folds
    assert json.loads(path.read_text())["root"] == "../data"  # relative: the dataset and manifest can move together
    assert loaded.verify().ok and not loaded.verify().added

    changed = root / "case01" / "case01_t2.nii.gz"
    changed.write_bytes(changed.read_bytes() + b"\0")
    (root / "case02" / "case02_t1.nii.gz").unlink()
    (root / "case03" / "notes.txt").write_text("new")
    check = load_manifest(path).verify()
    assert check.changed == ["case01/case01_t2.nii.gz"]
    assert check.missing == ["case02/case02_t1.nii.gz"]
    assert check.added == ["case03/notes.txt"]
    with pytest.raises(WeakSegError, match="changed case01/case01_t2.nii.gz; missing case02/case02_t1.nii.gz"):
        load_manifest(path, verify=True)


def test_bad_manifests_are_refused(tmp_path):
    make_dataset(tmp_path / "d", NAMES[:4])
    path = write_manifest(build_manifest(tmp_path / "d", 2, 0), tmp_path / "m.json")
    data = json.loads(path.read_text())
    for change, match in [
        (lambda d: d.update(schema_version=2), "newer WeakSeg"),
        (lambda d: d["splits"]["folds"][0].pop(), "do not partition"),
        (lambda d: d["cases"][0].pop("files"), "malformed field"),
        (lambda d: d.update(schema="other"), "not a WeakSeg manifest"),
    ]:
        bad = json.loads(json.dumps(data))
        change(bad)
        target = tmp_path / "bad.json"
        target.write_text(json.dumps(bad))
        with pytest.raises(WeakSegError, match=match):
            load_manifest(target)
    (tmp_path / "trunc.json").write_text(path.read_text()[:100])
    with pytest.raises(WeakSegError, match="corrupt manifest"):
        load_manifest(tmp_path / "trunc.json")
    with pytest.raises(WeakSegError, match="cannot split 4 case"):
        build_manifest(tmp_path / "d", folds=5)
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeakSegError, match="no cases found"):
        build_manifest(tmp_path / "empty")


def test_cli_create_and_verify(tmp_path, capsys):
    make_dataset(tmp_path / "d", NAMES[:6])
    out = tmp_path / "m.json"
    assert main(["manifest", "create", str(tmp_path / "d"), "--out", str(out), "--folds", "3", "--seed", "2"]) == 0
    assert "6 cases, 3 folds (2, 2, 2), seed 2" in capsys.readouterr().out
    assert main(["manifest", "verify", str(out)]) == 0
    (tmp_path / "d" / "case01" / "case01_t1.nii.gz").write_bytes(b"x")
    assert main(["manifest", "verify", str(out)]) == 1
    assert "changed  case01/case01_t1.nii.gz" in capsys.readouterr().out
    assert main(["manifest", "create", str(tmp_path / "nope"), "--out", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()


def test_manifest_of_the_real_brats_cases(shared_data):
    root = shared_data / "brats18"
    m = build_manifest(root, folds=5, seed=0)
    assert len(m.cases) == len([p for p in root.iterdir() if p.is_dir()])
    assert all(c.sequences == ["t1", "t1c", "t2", "flair"] and c.label_kinds == ["full"] for c in m.cases)
    assert all(len(c.files) == 5 for c in m.cases)
    assert sorted(len(f) for f in m.folds)[-1] - sorted(len(f) for f in m.folds)[0] <= 1
