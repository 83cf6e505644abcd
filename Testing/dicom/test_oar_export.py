"""Real expert organ masks (DeepMind head-and-neck, 512x512x156) through RTSTRUCT and back with plastimatch.

The CT itself is not public, so a synthetic CT series of the masks' exact geometry is written;
the 21 masks overlap (lens in orbit, cord in canal), so they are exported as separate segments.
"""

from __future__ import annotations

import time

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from rt_helpers import dciodvfy_errors, dice, on_grid, plastimatch_masks
from weakseg.rt import RtExportConfig, export_rtstruct
from weakseg.rt.segments import segments_from_mask_files
from weakseg.rt.series import write_synthetic_series

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def oar(shared_data, tmp_path_factory):
    folder = shared_data / "oar" / "deepmind_hn_ct" / "0522c0017_oncologist"
    if not folder.is_dir():
        pytest.skip("deepmind_hn_ct masks are absent")
    segset = segments_from_mask_files(list(folder.glob("*.nrrd")))
    grid = segset.grid
    ct = sitk.Image(grid.GetSize(), sitk.sitkInt16)
    ct.CopyInformation(grid)
    series = tmp_path_factory.mktemp("hn_ct")
    write_synthetic_series(ct, series, "CT")
    out = tmp_path_factory.mktemp("hn_rt") / "rtstruct.dcm"
    start = time.perf_counter()
    export_rtstruct(segset, None, series, out, RtExportConfig())
    return segset, series, out, time.perf_counter() - start


def test_every_organ_is_mapped_to_a_coded_tg263_roi(oar):
    segset, _, out, _ = oar
    assert all(seg.key for seg in segset.segments)
    ds = pydicom.dcmread(out)
    names = [r.ROIName for r in ds.StructureSetROISequence]
    assert len(names) == len(segset.segments) == 21
    assert {"Cochlea_L", "Eye_R", "Glnd_Submand_L", "OpticNrv_R", "SpinalCanal", "Bone_Mandible"} <= set(names)
    assert all(o.RTROIInterpretedType == "ORGAN" and o.RTROIIdentificationCodeSequence[0].CodingSchemeDesignator == "SCT"
               for o in ds.RTROIObservationsSequence)


def test_dciodvfy_accepts_organ_rtstruct(oar):
    _, _, out, _ = oar
    iod, errors = dciodvfy_errors(out)
    assert iod == "RTStructureSet" and errors == []


def test_plastimatch_dice_on_real_organs(oar, tmp_path):
    """Dice >= 0.95 for organs of >= 1 ml; smaller ones (cochlea, lens) within 20 % volume."""
    segset, series, out, _ = oar
    masks = plastimatch_masks(out, series, tmp_path / "pl")
    voxel_ml = float(np.prod(segset.grid.GetSpacing())) / 1000
    for seg in segset.segments:
        got = on_grid(masks[seg.style.name], segset.grid)
        volume = seg.mask.sum() * voxel_ml
        if volume >= 1.0:
            assert dice(seg.mask, got) >= 0.95, (seg.style.name, dice(seg.mask, got))
        else:
            assert abs(got.sum() - seg.mask.sum()) <= 0.2 * seg.mask.sum(), (seg.style.name, got.sum(), seg.mask.sum())
