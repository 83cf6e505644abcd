"""A broken reference sequence is blamed itself, not the first sequence compared with it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import SimpleITK as sitk


def test_displaced_flair_is_named_not_t1(brats_case, tmp_path):
    for path in brats_case.iterdir():
        if "_flair" in path.name:
            image = sitk.ReadImage(str(path))
            image.SetOrigin((500.0, 500.0, 500.0))  # a header damaged in transfer
            sitk.WriteImage(image, str(tmp_path / path.name))
        elif "_seg" not in path.name:
            shutil.copy(path, tmp_path / path.name)
    run = subprocess.run([sys.executable, "-m", "weakseg", "info", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 2
    line = run.stderr.strip().splitlines()[-1]
    assert "_flair.nii.gz" in line and "reference sequence 'flair'" in line and "_t1" not in line.split(":")[1]
