"""OAR segmentation does not depend on how the scanner stored the voxels.

A FreeSurfer-conformed T1 is stored LIA, a BraTS or DICOM-derived one LPS or RAS. The OAR
model resamples every input to 1 mm LPS, so the same head stored another way must get the
same organs in the same physical place — left organs on the patient's left.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from weakseg.cli import main
from weakseg.oar.classes import ORGANS
from weakseg.phantom.config import PhantomConfig
from weakseg.phantom.head_oar import make_head_case


def _segment(t1: str, out, case_id: str) -> sitk.Image:
    assert main(["-q", "segment", "--t1", t1, "--model", "default-oar", "--out", str(out), "--case-id", case_id]) == 0
    return sitk.ReadImage(str(out / f"{case_id}_labels.nii.gz"))


def test_a_head_stored_lia_gets_the_organs_of_the_same_head_stored_lps(tmp_path):
    head = make_head_case(PhantomConfig.preset("small", seed=101))
    lps = tmp_path / "lps_t1.nii.gz"
    sitk.WriteImage(head.images["t1"], str(lps))
    lia = tmp_path / "lia_t1.nii.gz"
    stored = sitk.DICOMOrient(head.images["t1"], "LIA")
    assert stored.GetDirection() != head.images["t1"].GetDirection()
    sitk.WriteImage(stored, str(lia))

    a = _segment(str(lps), tmp_path / "a", "a")
    b = _segment(str(lia), tmp_path / "b", "b")
    assert b.GetDirection() == stored.GetDirection() and b.GetSize() == stored.GetSize()  # on the input's own grid
    same_grid = sitk.GetArrayFromImage(sitk.Resample(b, a, sitk.Transform(), sitk.sitkNearestNeighbor, 0))
    labels = sitk.GetArrayFromImage(a)
    assert (same_grid == labels).mean() > 0.9999

    table = {organ.name: organ.value for organ in ORGANS}
    for image in (a, b):
        array = sitk.GetArrayFromImage(image)
        x_mm = {}
        for name in ("Eye_L", "Eye_R", "Hippocampus_L", "Hippocampus_R"):
            idx = np.argwhere(array == table[name])  # (z, y, x)
            assert len(idx), f"{name} missing"
            x_mm[name] = image.TransformContinuousIndexToPhysicalPoint(idx.mean(0)[::-1].tolist())[0]
        assert x_mm["Eye_L"] > x_mm["Eye_R"] and x_mm["Hippocampus_L"] > x_mm["Hippocampus_R"]  # LPS +x: left
