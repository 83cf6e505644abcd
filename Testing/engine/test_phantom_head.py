"""Head phantom with organs at risk: labels, anatomical relations, symmetry, label table, writing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from weakseg.io.case import load_case
from weakseg.io.image import orientation_code
from weakseg.phantom import PhantomConfig, make_head_case, write_case_files
from weakseg.phantom.head_oar import CLINICAL_BRAIN, LABELS

# a 240 x 240 x 155 mm field of view at 2.5 mm: organs at their real size, fast to build
PHYSICAL = PhantomConfig(shape=(62, 96, 96), spacing=2.5, seed=1)


@pytest.fixture(scope="module")
def head():
    return make_head_case(PHYSICAL)


def _mask(head, name):
    return np.asarray(head.array("labels")) == LABELS[name]


def _centroid_mm(head, mask):
    """Centroid in LPS mm (x left, y posterior, z superior)."""
    zyx = np.argwhere(mask).mean(axis=0)
    return np.array(head.labels.TransformContinuousIndexToPhysicalPoint([float(v) for v in zyx[::-1]]))


def _touches(a, b):
    return bool(np.any(ndi.binary_dilation(a) & b))


def test_same_seed_same_bytes_other_seed_differs(head):
    again = make_head_case(PHYSICAL)
    for name in ("t1", "t2", "labels"):
        assert np.asarray(head.array(name)).tobytes() == np.asarray(again.array(name)).tobytes()
    other = make_head_case(PHYSICAL.with_(seed=2))
    assert not np.array_equal(head.array("t1"), other.array("t1"))


def test_every_organ_present_with_plausible_volume(head):
    ml = float(np.prod(head.labels.GetSpacing())) / 1000
    volume = {name: _mask(head, name).sum() * ml for name in LABELS}
    expected = {"Brainstem": (15, 45), "Eye_L": (5, 10), "Lens_L": (0.08, 0.6), "OpticNrv_L": (0.2, 1.5),
                "OpticChiasm": (0.2, 1.5), "Pituitary": (0.2, 1.2), "Hippocampus_L": (2, 6)}
    for name, (lo, hi) in expected.items():
        assert lo < volume[name] < hi, (name, volume[name])
    clinical_brain = sum(volume[n] for n in CLINICAL_BRAIN)
    assert 1000 < clinical_brain < 1700
    assert np.array_equal(np.asarray(head.array("brain_mask")) > 0, np.isin(head.array("labels"), [LABELS[n] for n in CLINICAL_BRAIN]))


def test_every_organ_present_on_a_tiny_grid():
    tiny = make_head_case(PhantomConfig(shape=(32, 48, 48), seed=0))
    assert set(np.unique(tiny.array("labels"))) == {0, *LABELS.values()}


def test_grid_and_sequences(head):
    for image in (*head.images.values(), head.labels):
        assert image.GetSize() == (96, 96, 62) and orientation_code(image) == "LPS"
    assert set(head.images) == {"t1", "t2"}
    t1, t2 = (np.asarray(head.array(s), dtype=float) for s in ("t1", "t2"))
    vitreous = _mask(head, "Eye_L") | _mask(head, "Eye_R")
    lens = _mask(head, "Lens_L") | _mask(head, "Lens_R")
    brain = _mask(head, "Brain")
    assert t2[vitreous].mean() > 1.5 * t2[brain].mean()  # fluid bright on T2
    assert t1[vitreous].mean() < 0.5 * t1[brain].mean()  # and dark on T1
    assert t2[lens].mean() < t2[vitreous].mean() / 2


@pytest.mark.parametrize("side", ["L", "R"])
def test_lens_inside_its_globe_at_the_front(head, side):
    eye, lens = _mask(head, f"Eye_{side}"), _mask(head, f"Lens_{side}")
    assert not np.any(ndi.binary_dilation(lens) & ~(eye | lens))  # surrounded by its eye only
    assert _centroid_mm(head, lens)[1] < _centroid_mm(head, eye)[1] - 5  # anterior (y smaller in LPS)


@pytest.mark.parametrize("side", ["L", "R"])
def test_optic_nerve_runs_from_its_eye_to_the_chiasm(head, side):
    eye, nerve, chiasm = _mask(head, f"Eye_{side}"), _mask(head, f"OpticNrv_{side}"), _mask(head, "OpticChiasm")
    assert ndi.label(nerve)[1] == 1
    assert _touches(nerve, eye) and _touches(nerve, chiasm)
    assert _centroid_mm(head, nerve)[1] > _centroid_mm(head, eye)[1]  # behind the eye
    assert _centroid_mm(head, chiasm)[1] > _centroid_mm(head, nerve)[1]  # chiasm behind the nerve


def test_chiasm_between_the_nerves_posterior_ends(head):
    ends = []
    for side in ("L", "R"):
        pts = np.argwhere(_mask(head, f"OpticNrv_{side}"))
        back = pts[pts[:, 1] >= np.percentile(pts[:, 1], 85)]  # most posterior voxels (y index grows posteriorly)
        ends.append(_centroid_mm(head, _points_mask(head, back)))
    chiasm = _centroid_mm(head, _mask(head, "OpticChiasm"))
    left, right = ends
    assert right[0] < chiasm[0] < left[0]  # x grows to the patient's left
    assert np.linalg.norm(chiasm - (left + right) / 2) < 15


def _points_mask(head, pts):
    mask = np.zeros(np.asarray(head.array("labels")).shape, bool)
    mask[tuple(pts.T)] = True
    return mask


def test_pituitary_below_chiasm_brainstem_posterior_inferior(head):
    chiasm = _centroid_mm(head, _mask(head, "OpticChiasm"))
    pituitary = _centroid_mm(head, _mask(head, "Pituitary"))
    brainstem = _centroid_mm(head, _mask(head, "Brainstem"))
    assert pituitary[2] < chiasm[2] - 3
    assert abs(pituitary[0] - chiasm[0]) < 3 and abs(pituitary[1] - chiasm[1]) < 8
    assert brainstem[1] > pituitary[1] + 10 and brainstem[2] < pituitary[2]
    eyes = [_centroid_mm(head, _mask(head, f"Eye_{s}")) for s in ("L", "R")]
    assert all(eye[1] < chiasm[1] - 30 for eye in eyes)


def test_hippocampi_medial_temporal_beside_the_brainstem(head):
    brainstem = _centroid_mm(head, _mask(head, "Brainstem"))
    for side, sign in (("L", 1), ("R", -1)):
        hippocampus = _mask(head, f"Hippocampus_{side}")
        centre = _centroid_mm(head, hippocampus)
        assert 15 < sign * (centre[0] - brainstem[0]) < 40  # lateral to the brainstem, on its own side
        assert abs(centre[1] - brainstem[1]) < 25 and abs(centre[2] - brainstem[2]) < 25
        assert _touches(hippocampus, _mask(head, "Brain"))
        assert not _touches(hippocampus, _mask(head, "Brainstem"))


@pytest.mark.parametrize("organ", ["Eye", "Lens", "OpticNrv", "Hippocampus"])
def test_left_and_right_are_mirror_images(head, organ):
    left, right = _mask(head, f"{organ}_L"), _mask(head, f"{organ}_R")
    assert abs(int(left.sum()) - int(right.sum())) <= 0.05 * left.sum() + 2
    cl, cr = _centroid_mm(head, left), _centroid_mm(head, right)
    mid = _centroid_mm(head, _mask(head, "OpticChiasm"))[0]
    spacing = max(head.labels.GetSpacing())
    assert abs((cl[0] + cr[0]) / 2 - mid) < spacing
    assert np.allclose(cl[1:], cr[1:], atol=spacing)
    assert cl[0] > cr[0]  # "_L" is the patient's left: +x in LPS


def test_label_table_codes_agree_with_dicom_code_tables(head):
    from pydicom.sr.codedict import codes

    table = {entry["name"]: entry for entry in head.label_table}
    assert [e["value"] for e in head.label_table] == sorted(set(LABELS.values()))
    expected = {"Brain": codes.SCT.Brain, "Brainstem": codes.SCT.BrainStem, "Eye_L": codes.SCT.Eye,
                "Lens_R": codes.SCT.Lens, "OpticNrv_L": codes.SCT.OpticNerve, "OpticChiasm": codes.SCT.OpticChiasm,
                "Pituitary": codes.SCT.Pituitary, "Hippocampus_R": codes.SCT.Hippocampus}
    for name, code in expected.items():
        assert table[name]["snomed"]["code"] == code.value, name
    assert table["Eye_L"]["laterality"]["code"] == codes.SCT.Left.value
    assert table["Eye_R"]["laterality"]["code"] == codes.SCT.Right.value
    assert all(len(e["color"]) == 3 and all(0 <= c <= 255 for c in e["color"]) for e in head.label_table)


def test_written_head_case(head, tmp_path):
    written = write_case_files(head, tmp_path / head.case_id)
    names = sorted(p.name for p in written)
    cid = head.case_id
    assert names == sorted([f"{cid}_t1.nii.gz", f"{cid}_t2.nii.gz", f"{cid}_oar.nii.gz", f"{cid}_oar_labels.json"])
    oar = sitk.ReadImage(str(tmp_path / cid / f"{cid}_oar.nii.gz"))
    assert np.array_equal(sitk.GetArrayViewFromImage(oar), head.array("labels"))
    table = json.loads((tmp_path / cid / f"{cid}_oar_labels.json").read_text())
    assert {e["name"]: e["value"] for e in table["labels"]} == LABELS
    case = load_case(tmp_path / cid)
    assert set(case.images) == {"t1", "t2"}
    assert np.array_equal(sitk.GetArrayViewFromImage(case.images["t1"]), head.array("t1"))
