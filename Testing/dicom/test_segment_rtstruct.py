"""One command from MRI to an RT Structure Set: ``weakseg segment ... --rtstruct SERIES``.

The reference is a synthetic MR series written from the case's own FLAIR, so the RTSTRUCT must
reference its UIDs, pass dciodvfy, and name the model that produced it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydicom
import SimpleITK as sitk

from rt_helpers import dciodvfy_errors
from weakseg.models import load_model
from weakseg.phantom import PhantomConfig, make_tumour_case, write_case
from weakseg.rt.series import write_synthetic_series


def test_segment_writes_valid_rtstruct_referencing_the_series(tmp_path: Path):
    case_dir = write_case(make_tumour_case(PhantomConfig.preset("small", seed=3)), tmp_path / "case")
    flair = sitk.ReadImage(str(next(case_dir.glob("*_flair.nii.gz"))))
    series = tmp_path / "series"
    files = write_synthetic_series(flair, series, "MR")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "weakseg", "segment", str(case_dir), "--model", "default",
                          "--out", str(out), "--rtstruct", str(series)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rt_path = next(out.glob("*_rtstruct.dcm"))
    assert str(rt_path) in run.stdout

    _, errors = dciodvfy_errors(rt_path)
    assert errors == []
    rt = pydicom.dcmread(rt_path)
    ref = pydicom.dcmread(files[0])
    assert rt.Modality == "RTSTRUCT"
    referenced = rt.ReferencedFrameOfReferenceSequence[0]
    assert referenced.FrameOfReferenceUID == ref.FrameOfReferenceUID
    study = referenced.RTReferencedStudySequence[0]
    assert study.RTReferencedSeriesSequence[0].SeriesInstanceUID == ref.SeriesInstanceUID
    assert rt.StudyInstanceUID == ref.StudyInstanceUID and rt.SeriesInstanceUID != ref.SeriesInstanceUID
    slice_uids = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files}
    names = {roi.ROIName for roi in rt.StructureSetROISequence}
    assert names and names <= {"GTV_Necrosis", "CTV_Edema", "GTV_Enhancing"}
    for roi, obs in zip(rt.StructureSetROISequence, rt.RTROIObservationsSequence):
        assert roi.ROIGenerationAlgorithm == "AUTOMATIC"
        assert roi.ROIGenerationDescription.startswith(f"default-tumour {load_model('default').card.version}")
        assert obs.RTROIInterpretedType in {"GTV", "CTV"}
    for contour_roi in rt.ROIContourSequence:
        for contour in contour_roi.ContourSequence:
            assert contour.ContourImageSequence[0].ReferencedSOPInstanceUID in slice_uids
