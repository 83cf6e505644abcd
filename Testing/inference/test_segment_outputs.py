"""segment_case and write_outputs: exact grid, Slicer .seg.nrrd header, orientation, files, CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.cli import main
from weakseg.inference import InferenceConfig, segment_case, write_outputs
from weakseg.io import load_case
from weakseg.io.image import write_image
from weakseg.models import load_model


def _oblique(image: sitk.Image) -> sitk.Image:
    """Same voxels on a grid with a non-trivial origin, anisotropic spacing and a rotated direction."""
    out = sitk.Image(image)
    out.SetOrigin((-91.5, 117.25, -40.0))
    out.SetSpacing((4.5, 4.5, 6.0))
    angle = np.deg2rad(20)
    c, s = np.cos(angle), np.sin(angle)
    out.SetDirection((c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0))
    return out


@pytest.fixture()
def oblique_case(phantom_folder, tmp_path):
    case = load_case(phantom_folder)
    folder = tmp_path / "oblique"
    for name, image in case.images.items():
        suffix = {"t1c": "t1ce"}.get(name, name)
        write_image(_oblique(image), folder / f"Oblique_{suffix}.nii.gz")
    return load_case(folder)


def test_labels_on_exact_original_grid_and_seg_nrrd_valid(oblique_case, tiny_model_dir, tmp_path):
    model = load_model(tiny_model_dir)
    result = segment_case(oblique_case, model, InferenceConfig(device="cpu"))
    grid = oblique_case.grid
    assert result.labels.GetSize() == grid.GetSize()
    assert result.labels.GetOrigin() == grid.GetOrigin()
    assert result.labels.GetSpacing() == grid.GetSpacing()
    assert result.labels.GetDirection() == grid.GetDirection()
    values = set(np.unique(sitk.GetArrayViewFromImage(result.labels)).tolist())
    assert values <= {0, 1, 2, 4}

    paths = write_outputs(result, tmp_path / "out", oblique_case)
    assert set(paths) == {"labels", "segmentation", "slices", "montage", "provenance"}
    nifti = sitk.ReadImage(str(paths["labels"]))
    assert nifti.GetSize() == grid.GetSize()
    np.testing.assert_allclose(nifti.GetOrigin(), grid.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(nifti.GetDirection(), grid.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(nifti), sitk.GetArrayFromImage(result.labels))

    seg = sitk.ReadImage(str(paths["segmentation"]))
    np.testing.assert_allclose(seg.GetOrigin(), grid.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(seg.GetDirection(), grid.GetDirection(), atol=1e-6)
    array = sitk.GetArrayFromImage(seg)
    np.testing.assert_array_equal(array, sitk.GetArrayFromImage(result.labels))
    header = {k: seg.GetMetaData(k) for k in seg.GetMetaDataKeys()}
    assert header["Segmentation_MasterRepresentation"] == "Binary labelmap"
    names = {header[f"Segment{i}_Name"] for i in range(3)}
    assert names == {"necrosis", "edema", "enhancing"}
    for i in range(3):
        value = int(header[f"Segment{i}_LabelValue"])
        assert header[f"Segment{i}_Layer"] == "0"
        assert len(header[f"Segment{i}_Color"].split()) == 3
        assert header[f"Segment{i}_ID"]
        assert header[f"Segment{i}_Tags"].startswith("TerminologyEntry:") and "SCT^" in header[f"Segment{i}_Tags"]
        extent = [int(v) for v in header[f"Segment{i}_Extent"].split()]
        k, j, ii = np.nonzero(array == value)
        if k.size:
            assert extent == [ii.min(), ii.max(), j.min(), j.max(), k.min(), k.max()]
        else:
            assert extent == [0, -1, 0, -1, 0, -1]

    with open(paths["slices"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == grid.GetSize()[2]
    assert {"slice", "z_mm", "p_necrosis", "p_edema", "p_enhancing", "voxels_edema"} <= set(rows[0])
    assert paths["montage"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reoriented_case_gives_the_same_labels(phantom_case, tiny_model_dir):
    """A case stored in another axis order (here PIR) is segmented on axial slices like its LPS twin."""
    model = load_model(tiny_model_dir)
    reference = segment_case(phantom_case, model, InferenceConfig(device="cpu"))
    from dataclasses import replace

    turned = replace(phantom_case, images={k: sitk.DICOMOrient(v, "PIR") for k, v in phantom_case.images.items()})
    result = segment_case(turned, model, InferenceConfig(device="cpu"))
    assert result.labels.GetDirection() == turned.grid.GetDirection()
    back = sitk.DICOMOrient(result.labels, "LPS")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(reference.labels))
    assert result.provenance["reoriented_to_LPS"] and not reference.provenance["reoriented_to_LPS"]
    prob = result.probability_image("edema")
    assert prob.GetSize() == turned.grid.GetSize()


def test_missing_sequence_is_one_line_error(phantom_folder, tiny_model_dir, tmp_path, capsys):
    flair = next(phantom_folder.glob("*_flair.nii.gz"))
    code = main(["segment", "--flair", str(flair), "--model", str(tiny_model_dir), "--out", str(tmp_path / "o")])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("weakseg: error")]
    assert code == 2 and len(errors) == 1 and "lacks sequence" in errors[0]
    assert not (tmp_path / "o").exists()


def test_cli_segment_prints_every_output(phantom_folder, tiny_model_dir, tmp_path, capsys):
    code = main(["segment", str(phantom_folder), "--model", str(tiny_model_dir), "--out", str(tmp_path / "seg"),
                 "--device", "cpu", "--tta"])
    out = capsys.readouterr().out
    assert code == 0
    for kind in ("labels", "segmentation", "slices", "montage", "provenance"):
        line = next(l for l in out.splitlines() if l.startswith(kind))
        assert (tmp_path / "seg").joinpath(line.split()[-1].split("/")[-1]).is_file()


def test_a_preprocessing_mask_is_written_beside_the_labels_and_retired_when_a_rerun_makes_none(
        oblique_case, tiny_model_dir, tmp_path):
    result = segment_case(oblique_case, load_model(tiny_model_dir), InferenceConfig(device="cpu"))
    brain = sitk.Cast(oblique_case.images["t1"] > 0, sitk.sitkUInt8)
    result.masks["brain"] = brain
    paths = write_outputs(result, tmp_path / "out", oblique_case)
    assert paths["brain"].name == f"{oblique_case.case_id}_brain.nii.gz"
    written = sitk.ReadImage(str(paths["brain"]))
    assert written.GetSize() == oblique_case.grid.GetSize()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written), sitk.GetArrayFromImage(brain))
    result.masks.clear()  # the same case again, without preprocessing: no stale mask beside the new labels
    again = write_outputs(result, tmp_path / "out", oblique_case)
    assert "brain" not in again and not paths["brain"].exists() and again["labels"].exists()
