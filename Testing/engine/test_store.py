"""The weak-label store: round trips, range semantics, refusal of bad sidecars, grid checks."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weakseg.errors import WeakSegError
from weakseg.labels import ABSENT, AXES, PRESENT, STATUSES, UNKNOWN, Grid, WeakLabelStore
from weakseg.labels.schema import decode_runs, encode_runs

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def make_grid(size=(7, 6, 5), spacing=(1.0, 1.2, 2.5), origin=(-3.0, 4.0, 10.0), direction=IDENTITY) -> Grid:
    return Grid(tuple(size), tuple(spacing), tuple(origin), tuple(direction))


def files_snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ------------------------------------------------------------------------------ property-based round trip

label_values = st.sampled_from([PRESENT, ABSENT, UNKNOWN])
class_names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(str.strip)


@st.composite
def stores_content(draw):
    size = tuple(draw(st.integers(1, 9)) for _ in range(3))
    classes = draw(st.lists(class_names, min_size=1, max_size=4, unique=True))
    # any acquisition orientation: a signed permutation of the axes (axial, sagittal, coronal series, flips)
    perm = draw(st.permutations(range(3)))
    signs = [draw(st.sampled_from([-1.0, 1.0])) for _ in range(3)]
    direction = np.zeros((3, 3))
    for index_axis, world_axis in enumerate(perm):
        direction[world_axis, index_axis] = signs[index_axis]
    grid = make_grid(size=size, spacing=tuple(draw(st.floats(0.1, 5.0)) for _ in range(3)),
                     direction=tuple(direction.ravel().tolist()))
    for name, world_axis in (("sagittal", 0), ("coronal", 1), ("axial", 2)):
        assert grid.array_axis(name) == 2 - perm.index(world_axis)  # array axes are index axes reversed
    shape = grid.shape
    content = {"grid": grid, "classes": classes, "slices": {}, "ranges": {}, "scribbles": {}, "full": {}}
    for cls in classes:
        axis = draw(st.sampled_from(AXES))
        n = grid.n_slices(axis)
        if draw(st.booleans()):
            content["slices"][(cls, axis)] = np.array(draw(st.lists(label_values, min_size=n, max_size=n)), np.int8)
        else:
            a = draw(st.integers(0, n - 1))
            b = draw(st.integers(a, n - 1))
            content["ranges"][(cls, axis)] = (a, b)
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        if draw(st.booleans()):
            content["scribbles"][cls] = rng.integers(-1, 2, size=shape).astype(np.int8)
        if draw(st.booleans()):
            content["full"][cls] = rng.random(shape) < draw(st.floats(0, 1))
    if draw(st.booleans()):
        content["regions"] = np.random.default_rng(draw(st.integers(0, 99))).integers(0, 4, size=shape).astype(np.uint8)
    content["status"] = draw(st.sampled_from(STATUSES))
    content["annotator"] = draw(st.one_of(st.none(), st.text(max_size=20)))
    return content


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores_content())
def test_round_trip_of_random_labels(content):
    with tempfile.TemporaryDirectory() as tmp:
        store = WeakLabelStore.open(tmp, grid=content["grid"], case_id="case-λ")
        for (cls, axis), values in content["slices"].items():
            store.set_slice_labels(cls, axis, values)
        for (cls, axis), (a, b) in content["ranges"].items():
            store.set_slice_range(cls, axis, a, b)
        for cls, labels in content["scribbles"].items():
            store.set_scribble_labels(cls, labels)
        for cls, mask in content["full"].items():
            store.set_full_mask(cls, mask)
        if "regions" in content:
            store.set_regions(content["regions"])
        store.status = content["status"]
        store.annotator = content["annotator"]
        store.save()

        back = WeakLabelStore.open(tmp, create=False)
        back.verify()
        assert back.grid == content["grid"]
        assert back.case_id == "case-λ"
        assert back.status == content["status"] and back.annotator == content["annotator"]
        assert set(back.classes) == set(store.classes)
        for (cls, axis), values in content["slices"].items():
            np.testing.assert_array_equal(back.slice_labels(cls, axis), values)
        for (cls, axis), (a, b) in content["ranges"].items():
            got = back.slice_labels(cls, axis)
            expected = np.full(got.size, ABSENT)
            expected[a:b + 1] = PRESENT
            np.testing.assert_array_equal(got, expected)
            assert back.slice_ranges(cls, axis) == [(a, b)]
        for cls, labels in content["scribbles"].items():
            np.testing.assert_array_equal(back.scribbles(cls), labels)
        for cls, mask in content["full"].items():
            np.testing.assert_array_equal(back.full_mask(cls), mask)
        assert set(back.known_classes("full")) == set(content["full"])
        if "regions" in content:
            np.testing.assert_array_equal(back.regions(), content["regions"])
        else:
            assert back.regions() is None
        assert set(back.kinds()) == set(store.kinds())


@given(st.lists(label_values, min_size=1, max_size=300))
def test_run_length_text_round_trips(values):
    values = np.array(values, np.int8)
    text = encode_runs(values)
    np.testing.assert_array_equal(decode_runs(text, values.size, Path("x"), "t"), values)
    assert text.count(",") == np.count_nonzero(np.diff(values))  # one run per change, so the JSON stays short


def test_run_text_must_cover_every_slice(tmp_path):
    with pytest.raises(WeakSegError, match="cover 3 of 5"):
        decode_runs("0-2 present", 5, tmp_path, "t")
    with pytest.raises(WeakSegError, match="does not continue"):
        decode_runs("0-2 present, 4 absent", 5, tmp_path, "t")
    with pytest.raises(WeakSegError, match="cannot read"):
        decode_runs("0-4 maybe", 5, tmp_path, "t")


# ------------------------------------------------------------------------------ semantics


def test_slice_ranges_margin_and_single_labels(tmp_path):
    store = WeakLabelStore.open(tmp_path, grid=make_grid(size=(4, 4, 20)))
    assert store.status == "not started" and store.kinds() == []
    store.set_slice_ranges("WT", "axial", [(3, 6), (12, 15)], margin=1)
    labels = store.slice_labels("WT", "axial")
    assert labels.tolist() == [0, 0, -1, -1, 1, 1, -1, -1, 0, 0, 0, -1, -1, 1, 1, -1, -1, 0, 0, 0]
    store.set_slice_label("WT", "axial", 0, UNKNOWN)
    assert store.slice_labels("WT", "axial")[0] == UNKNOWN
    assert store.slice_ranges("WT", "axial") == [(4, 5), (13, 14)]
    # a class never labelled on an axis is unknown there, not absent
    assert (store.slice_labels("ET", "axial") == UNKNOWN).all()
    assert (store.slice_labels("WT", "coronal") == UNKNOWN).all()
    with pytest.raises(IndexError):
        store.set_slice_range("WT", "axial", 5, 20)
    with pytest.raises(IndexError):
        store.set_slice_label("WT", "axial", -1, PRESENT)
    with pytest.raises(ValueError):
        store.set_slice_label("WT", "axial", 2, 3)
    assert WeakLabelStore.status_of(tmp_path) == "not started"  # nothing saved yet
    store.save()
    assert WeakLabelStore.open(tmp_path).status == "partial"  # labelling started
    assert WeakLabelStore.status_of(tmp_path) == "partial"


def test_scribbles_must_not_overlap_and_must_fit_the_grid(tmp_path):
    grid = make_grid()
    store = WeakLabelStore.open(tmp_path, grid=grid)
    fg = np.zeros(grid.shape, bool)
    fg[1, 2, 3] = True
    with pytest.raises(WeakSegError, match="overlap in 1 voxels"):
        store.set_scribbles("WT", fg, fg)
    with pytest.raises(WeakSegError, match="shape"):
        store.set_scribbles("WT", fg[:, :, :-1], np.zeros_like(fg[:, :, :-1]))
    other = grid.image(fg.astype(np.uint8))
    other.SetSpacing((1.0, 1.0, 1.0))
    with pytest.raises(WeakSegError, match="not on the case grid"):
        store.set_full_mask("WT", other)
    store.set_full_mask("WT", grid.image(fg.astype(np.uint8)))  # an image on the right grid is accepted
    np.testing.assert_array_equal(store.full_mask("WT"), fg)


def test_partial_structure_sets_leave_other_classes_unknown(tmp_path):
    """RT-Struct import: organs without a contour have no full mask (unknown), an empty mask means absent."""
    grid = make_grid()
    store = WeakLabelStore.open(tmp_path, grid=grid)
    store.add_classes(["brainstem", "chiasm", "lens_l"])
    mask = np.zeros(grid.shape, bool)
    mask[2:4, 1:3, 1:5] = True
    store.set_full_mask("brainstem", mask)
    store.set_full_mask("lens_l", np.zeros(grid.shape, bool))
    store.save()
    back = WeakLabelStore.open(tmp_path)
    assert back.classes == ["brainstem", "chiasm", "lens_l"]
    assert back.known_classes("full") == ["brainstem", "lens_l"]
    assert back.full_mask("chiasm") is None
    assert not back.full_mask("lens_l").any()


def test_full_labels_from_a_label_map_allow_overlapping_classes(tmp_path):
    grid = make_grid()
    labels = np.random.default_rng(3).choice([0, 1, 2, 4], size=grid.shape).astype(np.uint8)
    store = WeakLabelStore.open(tmp_path, grid=grid)
    store.set_full_labels(labels, {"WT": (1, 2, 4), "TC": (1, 4), "ET": 4})
    store.save()
    full = WeakLabelStore.open(tmp_path).full_labels()
    np.testing.assert_array_equal(full["WT"], labels > 0)
    np.testing.assert_array_equal(full["TC"], (labels == 1) | (labels == 4))
    np.testing.assert_array_equal(full["ET"], labels == 4)


def test_saving_again_keeps_unchanged_masks_and_removes_replaced_ones(tmp_path):
    grid = make_grid()
    store = WeakLabelStore.open(tmp_path, grid=grid)
    rng = np.random.default_rng(0)
    store.set_full_mask("A", rng.random(grid.shape) < 0.5)
    store.set_regions(rng.integers(0, 4, grid.shape))
    store.save()
    folder = tmp_path / "weaklabels"
    before = files_snapshot(folder)
    store.set_regions(rng.integers(0, 4, grid.shape))
    store.save()
    after = files_snapshot(folder)
    full_files = [n for n in before if n.startswith("full-")]
    assert len(full_files) == 1 and after[full_files[0]] == before[full_files[0]]
    old_regions = [n for n in before if n.startswith("regions-")]
    new_regions = [n for n in after if n.startswith("regions-")]
    assert len(new_regions) == 1 and new_regions != old_regions  # the replaced mask is gone
    # setting identical content again reuses the file (never rewrites a file the committed JSON references)
    inode = (folder / new_regions[0]).stat().st_ino
    store.set_regions(store.regions())
    store.save()
    assert (folder / new_regions[0]).stat().st_ino == inode
    store.clear("regions")
    store.save()
    assert not [n for n in files_snapshot(folder) if n.startswith("regions-")]
    assert WeakLabelStore.open(tmp_path).kinds() == ["full"]


def test_json_is_short_and_readable(tmp_path):
    grid = make_grid(size=(240, 240, 155), spacing=(1, 1, 1))
    store = WeakLabelStore.open(tmp_path, grid=grid)
    for cls, (a, b) in {"WT": (40, 100), "TC": (50, 90), "ET": (55, 85)}.items():
        store.set_slice_range(cls, "axial", a, b)
    store.save()
    text = (tmp_path / "weaklabels" / "labels.json").read_text()
    assert len(text.splitlines()) < 40
    assert '"WT": "0-39 absent, 40-100 present, 101-154 absent"' in text


# ------------------------------------------------------------------------------ bad sidecars are refused, untouched


def saved_store(tmp_path: Path) -> WeakLabelStore:
    grid = make_grid()
    store = WeakLabelStore.open(tmp_path, grid=grid)
    store.set_slice_range("WT", "axial", 1, 3)
    store.set_scribble_labels("WT", np.random.default_rng(1).integers(-1, 2, grid.shape).astype(np.int8))
    store.save()
    return store


def assert_refused(tmp_path: Path, match: str, names_file: str = "labels.json") -> None:
    folder = tmp_path / "weaklabels"
    before = files_snapshot(folder)
    with pytest.raises(WeakSegError, match=match) as info:
        WeakLabelStore.open(tmp_path).verify()
    assert info.value.path.endswith(names_file) and "\n" not in str(info.value)
    assert files_snapshot(folder) == before  # left untouched


def test_newer_schema_is_refused_untouched(tmp_path):
    saved_store(tmp_path)
    path = tmp_path / "weaklabels" / "labels.json"
    data = json.loads(path.read_text())
    data["schema_version"] = 99
    data["something_new"] = {"x": 1}
    path.write_text(json.dumps(data))
    assert_refused(tmp_path, "newer WeakSeg .schema version 99")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not-ours", "bad-runs", "bad-status", "undeclared-class"])
def test_corrupt_sidecar_is_refused_untouched(tmp_path, damage):
    saved_store(tmp_path)
    path = tmp_path / "weaklabels" / "labels.json"
    text = path.read_text()
    data = json.loads(text)
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
        match = "invalid JSON"
    elif damage == "garbage":
        path.write_bytes(b"\xff\xfe\x00garbage")
        match = "not UTF-8"
    elif damage == "not-ours":
        path.write_text(json.dumps({"hello": 1}))
        match = "not a weak-label sidecar"
    elif damage == "bad-runs":
        data["slices"]["axial"]["WT"] = "0-1 absent, 2-3 present"
        path.write_text(json.dumps(data))
        match = "runs cover 4 of 5"
    elif damage == "bad-status":
        data["status"] = "done"
        path.write_text(json.dumps(data))
        match = "status 'done'"
    else:
        data["classes"] = []
        path.write_text(json.dumps(data))
        match = "missing from 'classes'"
    assert_refused(tmp_path, match)


def test_mask_with_other_geometry_is_refused(tmp_path):
    saved_store(tmp_path)
    folder = tmp_path / "weaklabels"
    data = json.loads((folder / "labels.json").read_text())
    name = data["scribbles"]["WT"]["file"]
    image = sitk.ReadImage(str(folder / name))
    image.SetOrigin((100.0, 0.0, 0.0))
    sitk.WriteImage(image, str(folder / name), useCompression=True)
    data["scribbles"]["WT"]["sha256"] = __import__("hashlib").sha256((folder / name).read_bytes()).hexdigest()
    (folder / "labels.json").write_text(json.dumps(data))
    assert_refused(tmp_path, "geometry differs", names_file=name)


def test_damaged_or_missing_mask_is_refused(tmp_path):
    saved_store(tmp_path)
    folder = tmp_path / "weaklabels"
    name = json.loads((folder / "labels.json").read_text())["scribbles"]["WT"]["file"]
    raw = (folder / name).read_bytes()
    (folder / name).write_bytes(raw[:-10])
    assert_refused(tmp_path, "does not match the SHA-256", names_file=name)
    (folder / name).unlink()
    assert_refused(tmp_path, "missing", names_file=name)


def test_save_refuses_to_overwrite_changes_made_by_another_program(tmp_path):
    first = saved_store(tmp_path)
    second = WeakLabelStore.open(tmp_path)
    second.status = "complete"
    second.save()
    first.status = "reviewed"
    with pytest.raises(WeakSegError, match="changed on disk"):
        first.save()
    assert WeakLabelStore.open(tmp_path).status == "complete"
    first.save(force=True)
    assert WeakLabelStore.open(tmp_path).status == "reviewed"


def test_open_checks_the_grid_and_needs_one(tmp_path):
    saved_store(tmp_path)
    with pytest.raises(WeakSegError, match="different grid"):
        WeakLabelStore.open(tmp_path, grid=make_grid(size=(8, 6, 5)))
    assert WeakLabelStore.open(tmp_path, grid=make_grid()).grid == make_grid()
    with pytest.raises(WeakSegError, match="no weak-label sidecar"):
        WeakLabelStore.open(tmp_path / "elsewhere", create=False)
    with pytest.raises(WeakSegError, match="case folder not found"):
        WeakLabelStore.open(tmp_path / "elsewhere")


def test_grid_from_a_case_folder_header(tmp_path):
    grid = make_grid(size=(9, 8, 7))
    sitk.WriteImage(grid.image(np.zeros(grid.shape, np.int16)), str(tmp_path / "P1_flair.nii.gz"))
    store = WeakLabelStore.open(tmp_path)
    assert store.grid.matches(grid) and store.case_id == tmp_path.name


def test_unwritable_folder_gives_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = WeakLabelStore.open(tmp_path, sidecar=blocker / "weaklabels", grid=make_grid())
    store.set_slice_range("WT", "axial", 0, 1)
    with pytest.raises(WeakSegError, match="cannot write weak labels"):
        store.save()


# ------------------------------------------------------------------------------ axes follow the direction cosines


def test_axis_names_follow_the_acquisition_orientation():
    axial = make_grid()
    assert [axial.array_axis(a) for a in ("axial", "coronal", "sagittal")] == [0, 1, 2]
    # A sagittal acquisition: index i runs anterior-posterior, j inferior-superior... as DICOM sagittal series:
    # columns of the direction matrix are the world directions of i, j, k.
    sagittal = make_grid(direction=(0, 0, 1,
                                    1, 0, 0,
                                    0, -1, 0))
    # i ∥ P (coronal normal), j ∥ -S (axial normal), k ∥ L (sagittal normal)
    assert sagittal.array_axis("sagittal") == 0  # k → array axis 0
    assert sagittal.array_axis("axial") == 1  # j → array axis 1
    assert sagittal.array_axis("coronal") == 2  # i → array axis 2
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    oblique = make_grid(direction=(c, -s, 0, s, c, 0, 0, 0, 1))  # 30° in-plane rotation stays axial
    assert oblique.array_axis("axial") == 0 and oblique.array_axis("sagittal") == 2
    with pytest.raises(ValueError):
        axial.array_axis("transverse")
