"""Synthetic tumour cases: determinism, geometry, BraTS round trip, contrasts, infiltration and physiology."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg import SEQUENCES, brats
from weakseg.errors import WeakSegError
from weakseg.io.case import load_case
from weakseg.io.image import orientation_code
from weakseg.phantom import PhantomConfig, case_files, make_tumour_case, write_case, write_case_files
from weakseg.phantom.physiology import MAPS

TINY = (32, 48, 48)


@pytest.fixture(scope="module")
def case():
    return make_tumour_case(PhantomConfig(shape=TINY, seed=3))


def _all_arrays(phantom):
    names = [*phantom.images, *phantom.physiology, "labels", "infiltration", "brain_mask", "tissue"]
    return {name: np.array(phantom.array(name)) for name in names}


def test_same_seed_gives_identical_bytes_and_other_seed_differs(case):
    again = _all_arrays(make_tumour_case(PhantomConfig(shape=TINY, seed=3)))
    first = _all_arrays(case)
    assert first.keys() == again.keys()
    for name in first:
        assert first[name].tobytes() == again[name].tobytes(), name
    other = _all_arrays(make_tumour_case(PhantomConfig(shape=TINY, seed=4)))
    assert not np.array_equal(first["labels"], other["labels"])
    assert not np.array_equal(first["flair"], other["flair"])


def test_grid_is_brats_like_lps(case):
    for image in [*case.images.values(), case.labels, case.infiltration, *case.physiology.values()]:
        assert image.GetSize() == (48, 48, 32)
        assert image.GetSpacing() == (1.0, 1.0, 1.0)
        assert image.GetOrigin() == (0.0, -47.0, 0.0)
        assert orientation_code(image) == "LPS"
    full = make_tumour_case.__globals__["make_grid"]((155, 240, 240), (1.0, 1.0, 1.0))
    assert full.GetOrigin() == (0.0, -239.0, 0.0)


def test_sequences_are_int16_skull_stripped_with_plausible_range(case):
    brain = case.array("brain_mask").astype(bool)
    assert 0.08 < brain.mean() < 0.35  # a brain fills about 16 % of a BraTS field of view
    assert set(case.images) == set(SEQUENCES)
    for name, image in case.images.items():
        arr = sitk.GetArrayViewFromImage(image)
        assert arr.dtype == np.int16
        assert np.all(arr[~brain] == 0), name
        assert np.all(arr[brain] > 0), name
        assert 150 < np.median(arr[brain]) < 1500, name
        assert arr.max() < 5000, name


def test_labels_present_nested_and_sized(case):
    labels = np.asarray(case.array("labels"))
    assert set(np.unique(labels)) == {0, 1, 2, 4}
    brain = case.array("brain_mask").astype(bool)
    assert not np.any(labels[~brain])
    wt = brats.regions(labels)["WT"]
    assert 0.005 < wt.sum() / brain.sum() < 0.4
    # necrosis is enclosed by the enhancing rim: its neighbours are necrosis or enhancing
    ncr = labels == 1
    grown = np.zeros_like(ncr)
    grown[1:] |= ncr[:-1]; grown[:-1] |= ncr[1:]
    grown[:, 1:] |= ncr[:, :-1]; grown[:, :-1] |= ncr[:, 1:]
    grown[:, :, 1:] |= ncr[:, :, :-1]; grown[:, :, :-1] |= ncr[:, :, 1:]
    assert np.isin(labels[grown], (1, 4)).mean() > 0.95


def test_tumour_position_and_size_vary_with_seed():
    centres, volumes = [], []
    for seed in range(4):
        labels = np.asarray(make_tumour_case(PhantomConfig(shape=TINY, seed=seed)).array("labels"))
        centres.append(np.argwhere(labels > 0).mean(axis=0))
        volumes.append((labels > 0).sum())
    assert np.ptp(np.array(centres), axis=0).max() > 5
    assert len(set(volumes)) == 4


@pytest.mark.parametrize("naming,enhancing", [("brats2018", 4), ("brats2021", 3)])
def test_written_case_loads_back_identically(case, tmp_path, naming, enhancing):
    folder = write_case(case, tmp_path / case.case_id, naming=naming)
    assert sorted(p.name for p in folder.iterdir()) == sorted(case_files(case.case_id, naming).values())
    loaded = load_case(folder)
    assert set(loaded.images) == set(SEQUENCES)
    for name in SEQUENCES:
        assert np.array_equal(sitk.GetArrayViewFromImage(loaded.images[name]), case.array(name))
        assert loaded.images[name].GetOrigin() == case.images[name].GetOrigin()
    labels = sitk.GetArrayFromImage(loaded.labels)
    assert set(np.unique(labels)) == {0, 1, 2, enhancing}
    assert np.array_equal(labels == enhancing, case.array("labels") == 4)
    assert not loaded.warnings


def test_physiology_files_written_beside_the_case(case, tmp_path):
    written = write_case_files(case, tmp_path / "c", physiology=True)
    names = {p.name for p in written}
    for name in (*MAPS, "infiltration"):
        assert f"{case.case_id}_{name}.nii.gz" in names
    assert load_case(tmp_path / "c").images.keys() == set(SEQUENCES)  # extra maps do not confuse the loader
    md = sitk.ReadImage(str(tmp_path / "c" / f"{case.case_id}_md.nii.gz"))
    assert np.array_equal(sitk.GetArrayViewFromImage(md), case.array("md"))


def test_write_refuses_unknown_naming(case, tmp_path):
    with pytest.raises(WeakSegError, match="naming"):
        write_case(case, tmp_path, naming="brats2030")


def test_physiology_can_be_skipped_without_changing_the_rest(case, tmp_path):
    lean = make_tumour_case(PhantomConfig(shape=TINY, seed=3, physiology=False))
    assert lean.physiology == {}
    for name in (*SEQUENCES, "labels", "infiltration"):
        assert np.array_equal(lean.array(name), case.array(name))
    with pytest.raises(WeakSegError, match="without physiological maps"):
        write_case(lean, tmp_path / "c", physiology=True)
    assert not (tmp_path / "c").exists()  # refused before writing anything


def test_tumour_contrasts_match_glioblastoma(case):
    labels = np.asarray(case.array("labels"))
    wm = (np.asarray(case.array("tissue")) == 3) & (labels == 0)
    med = {s: {k: float(np.median(case.array(s)[m])) for k, m in
               {"wm": wm, "ncr": labels == 1, "ed": labels == 2, "et": labels == 4}.items()} for s in SEQUENCES}
    assert med["t1c"]["et"] > 1.5 * med["t1c"]["wm"]
    assert med["t1c"]["ncr"] < med["t1c"]["et"]
    assert med["flair"]["ed"] > 1.2 * med["flair"]["wm"]
    assert med["t2"]["ed"] > 1.3 * med["t2"]["wm"]
    assert med["t1"]["ed"] < med["t1"]["wm"]
    assert med["t2"]["ncr"] > med["t2"]["et"]
    assert med["t1c"]["et"] > 1.3 * med["t1c"]["ed"]  # the rim, not the edema, enhances


def test_infiltration_covers_core_and_part_of_the_edema(case):
    labels = np.asarray(case.array("labels"))
    density = np.asarray(case.array("infiltration"))
    assert density.dtype == np.float32 and density.min() >= 0 and density.max() <= 1
    assert np.all(density[(labels == 1) | (labels == 4)] == 1)
    assert np.all(density[labels == 0] == 0)
    fraction = case.infiltrated_mask.sum() / (labels == 2).sum()
    assert 0.05 < fraction < 0.8  # some edema infiltrated, some purely vasogenic


def test_physiology_reveals_what_structure_hides(case):
    labels = np.asarray(case.array("labels"))
    density = np.asarray(case.array("infiltration"))
    infiltrated = case.infiltrated_mask
    vasogenic = (labels == 2) & (density < 0.1)
    assert infiltrated.sum() > 20 and vasogenic.sum() > 20
    maps = {name: np.asarray(case.array(name)) for name in MAPS}
    assert maps["rcbv"][infiltrated].mean() > 1.5 * maps["rcbv"][vasogenic].mean()
    assert maps["md"][infiltrated].mean() < 0.9 * maps["md"][vasogenic].mean()
    wm = np.asarray(case.array("tissue")) == 3
    assert maps["fa"][infiltrated & wm].mean() < 0.85 * maps["fa"][vasogenic & wm].mean()
    assert maps["rcbv"][labels == 4].mean() > 2 * maps["rcbv"][(labels == 0) & wm].mean()
    # structurally, infiltrated and vasogenic edema look alike on FLAIR
    flair = np.asarray(case.array("flair"), dtype=float)
    assert abs(flair[infiltrated].mean() / flair[vasogenic].mean() - 1) < 0.15


def test_derived_physiological_maps_obey_their_definitions(case):
    m = {name: np.asarray(case.array(name), dtype=np.float64) for name in MAPS}
    brain = case.array("brain_mask").astype(bool)
    np.testing.assert_allclose(m["p"], np.sqrt(3) * m["md"], rtol=1e-5)
    fa_from_pq = np.sqrt(1.5) * m["q"][brain] / np.sqrt(m["p"][brain] ** 2 + m["q"][brain] ** 2)
    np.testing.assert_allclose(fa_from_pq, m["fa"][brain], atol=1e-5)
    ratio = m["rcbf"][brain] * m["mtt"][brain] / m["rcbv"][brain].clip(1e-6)
    np.testing.assert_allclose(ratio[m["rcbv"][brain] > 0.05], ratio[m["rcbv"][brain] > 0.05][0], rtol=1e-4)
    for values in m.values():
        assert np.all(values[~brain] == 0)


def test_too_small_shape_is_refused():
    with pytest.raises(WeakSegError, match="too small"):
        make_tumour_case(PhantomConfig(shape=(4, 48, 48)))


def test_relative_medians_on_known_tissue_levels():
    from weakseg.phantom.compare import relative_medians

    rng = np.random.default_rng(0)
    tissue = rng.integers(1, 4, (20, 30, 30))  # 1 CSF, 2 GM, 3 WM
    labels = np.zeros(tissue.shape, np.uint8)
    labels[:5, :5, :5], labels[5:10, :5, :5], labels[10:15, :5, :5] = 1, 2, 4
    t1 = np.choose(tissue, [0, 100, 200, 300]).astype(np.int16)
    t2 = np.choose(tissue, [0, 600, 300, 200]).astype(np.int16)
    t2[labels == 2] = 500
    ratios = relative_medians({"t1": t1, "t2": t2}, labels)
    assert ratios["t1"]["csf"] == pytest.approx(1 / 3) and ratios["t1"]["gm"] == pytest.approx(2 / 3)
    assert ratios["t2"]["csf"] == 3.0 and ratios["t2"]["gm"] == 1.5 and ratios["t2"]["ed"] == 2.5
    assert ratios["t2"]["wm_level"] == 200.0
