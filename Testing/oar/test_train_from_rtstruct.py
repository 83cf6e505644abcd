"""Clinical-style partial labels end to end, through the real CLI.

Phantom heads are exported as RT-Structs whose ROI names are clinical variants ("Lt Optic
Nerve", "BrainStem", "Chiasm") and from each of which different organs are left out; ``weakseg
import-rtstruct --store`` turns them into weak-label stores (missing organs unknown);
``weakseg train --method oar`` trains on those stores directly; ``weakseg segment`` then runs the
model on a held-out head.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg.phantom.config import PhantomConfig
from weakseg.phantom.head_oar import LABELS, make_head_case

pytestmark = pytest.mark.slow

SHAPE = (40, 64, 64)  # a small head (the anatomy scales with the field of view) at 1 mm
CLINICAL_NAMES = {"Brain": "Brain", "Brainstem": "BrainStem", "Eye_L": "Lt Eye", "Eye_R": "Globe R",
                  "Lens_L": "Lens Left", "Lens_R": "R Lens", "OpticNrv_L": "Lt Optic Nerve", "OpticNrv_R": "Optic_Nerve_R",
                  "OpticChiasm": "Chiasm", "Pituitary": "Pituitary gland", "Hippocampus_L": "Hippo_L",
                  "Hippocampus_R": "Hippocampus Rt"}
LEFT_OUT = {1: ("Lens_L", "Lens_R", "Pituitary"), 2: ("OpticNrv_L", "OpticNrv_R", "Hippocampus_L", "Hippocampus_R"),
            3: ("Brain", "Eye_L", "Eye_R", "OpticChiasm")}


def weakseg(*args, timeout=600) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "weakseg", *map(str, args)], capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, run.stderr
    return run


def clinical_case(seed: int, root: Path) -> Path:
    """A case folder (T1) plus an RT-Struct on a synthetic MR series of it, with LEFT_OUT[seed] not contoured."""
    from weakseg.rt import export_rtstruct
    from weakseg.rt.series import write_synthetic_series

    head = make_head_case(PhantomConfig(seed=seed, shape=SHAPE, physiology=False))
    case = root / "dataset" / f"head{seed}"
    case.mkdir(parents=True)
    sitk.WriteImage(head.images["t1"], str(case / f"head{seed}_t1.nii.gz"))
    series = root / f"series{seed}"
    write_synthetic_series(head.images["t1"], series, "MR")
    labels = sitk.GetArrayFromImage(head.labels)
    kept = {LABELS[name]: CLINICAL_NAMES[name] for name in LABELS if name not in LEFT_OUT[seed]}
    contoured = sitk.GetImageFromArray(np.where(np.isin(labels, list(kept)), labels, 0).astype(np.uint8))
    contoured.CopyInformation(head.labels)
    rt = export_rtstruct(contoured, kept, series, root / f"rt{seed}.dcm")
    weakseg("import-rtstruct", rt, "--reference", series, "--out", root / f"rois{seed}", "--store", case)
    return case


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("oar_rt")
    for seed in LEFT_OUT:
        clinical_case(seed, root)
    return root


def test_import_keeps_left_out_organs_unknown(dataset):
    from weakseg.labels import WeakLabelStore

    store = WeakLabelStore.open(dataset / "dataset" / "head2", create=False)
    assert store.full_mask("Brainstem") is not None and store.full_mask("Brainstem").any()
    # not contoured: no mask at all (unknown), never an empty mask (which would mean absent)
    assert "OpticNrv_L" not in store.classes or store.full_mask("OpticNrv_L") is None
    summary = json.loads((dataset / "rois2" / "rois.json").read_text())
    assert summary["unmapped_rois"] == []
    assert {"OpticNrv_L", "Hippocampus_R"} <= set(summary["unknown_classes"])


def test_train_on_rtstruct_stores_then_segment(dataset, tmp_path):
    from weakseg.methods.oar import load_volumes
    from weakseg.methods.oar.config import OARConfig
    from weakseg.training.config import TrainConfig

    config = TrainConfig(method="oar", dataset=str(dataset / "dataset"), out=str(tmp_path / "unused"))
    volumes = {v.case_id: v for v in load_volumes(config, OARConfig())}
    assert set(volumes["head1"].known) == {"eye", "optic nerve", "optic chiasm", "hippocampus", "brainstem", "brain"}
    assert "optic nerve" not in volumes["head2"].known and "eye" not in volumes["head3"].known

    run_dir = tmp_path / "run"
    out = weakseg("train", "--method", "oar", "--dataset", dataset / "dataset", "--out", run_dir, "--iterations", 3,
                  "--option", "base=4", "--option", "depth=2", "--option", "patch=32", "--no-progress", "--threads", 1)
    assert "not available" in out.stdout
    card = json.loads((run_dir / "model" / "card.json").read_text())
    assert card["method"] == "oar" and card["network"]["name"] == "multihead_unet2d"
    assert sorted(card["training"]["full_cases"] + card["training"]["weak_cases"]) == ["head1", "head2", "head3"]

    held_out = make_head_case(PhantomConfig(seed=9, shape=SHAPE, physiology=False))
    t1 = tmp_path / "held_out_t1.nii.gz"
    sitk.WriteImage(held_out.images["t1"], str(t1))
    seg = weakseg("segment", "--t1", t1, "--model", run_dir / "model", "--out", tmp_path / "seg", "--case-id", "h9",
                  "--threads", 1)
    labels_path = next((tmp_path / "seg").glob("*labels*.nii.gz"), None) or next((tmp_path / "seg").glob("*.nii.gz"))
    labels = sitk.ReadImage(str(labels_path))
    assert labels.GetSize() == held_out.images["t1"].GetSize()
    assert set(np.unique(sitk.GetArrayViewFromImage(labels))) <= set(range(13))
    provenance = json.loads(next((tmp_path / "seg").glob("*.json")).read_text())
    assert provenance["method"] == "oar" and provenance["input"] == "t1" and "seg" in seg.stdout
