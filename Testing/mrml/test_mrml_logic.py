"""The modules' Logic on a real MRML scene: train through WeakSegTrain, then Segment with WeakSegTumor.

Acceptance of issue 5: training launched through the Logic on 2 synthetic cases registers
a model that Segment then uses; Segment gives a segmentation node with the right geometry,
terminology and provenance; slice labels and scribbles round-trip scene ⇄ store.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import numpy as np
import pytest
import SimpleITK as sitk

from weakseg_mrml.demo import TINY_MIXED_OPTIONS as TINY_OPTIONS
from weakseg_mrml.demo import TINY_RUN, write_demo_cases


@pytest.fixture(scope="module")
def cases_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cases")
    write_demo_cases(root)
    return root


@pytest.fixture(scope="module")
def models_env(tmp_path_factory):
    """A private user models folder, seen by the Logic (this process) and the worker alike."""
    folder = tmp_path_factory.mktemp("user-models")
    old = os.environ.get("WEAKSEG_MODELS")
    os.environ["WEAKSEG_MODELS"] = str(folder)
    yield {"WEAKSEG_MODELS": str(folder), "OMP_NUM_THREADS": "1"}
    if old is None:
        del os.environ["WEAKSEG_MODELS"]
    else:
        os.environ["WEAKSEG_MODELS"] = old


@dataclass
class Trained:
    cancelled: object      # the first run, cancelled mid-training
    cancel_seconds: float
    checkpoint: int        # iteration the cancelled run's checkpoint reached
    run: object            # the resumed run, which finished and registered the model
    entry: object          # the registered model's catalogue entry
    config: dict


@pytest.fixture(scope="module")
def trained(cases_root, models_env, headless_slicer, tmp_path_factory) -> Trained:
    """Train through the Train Logic as a user would: slice-label one case, start mixed-supervision training
    (one full case, one slice-labelled case), cancel mid-run, resume to the end (real workers)."""
    from WeakSegTrainLib.logic import WeakSegTrainLogic
    from weakseg.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

    logic = WeakSegTrainLogic(headless_slicer.scene, worker_env=models_env)
    weak = logic.open_case(cases_root / "Phantom_0001")
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(cases_root / "Phantom_0001" / "Phantom_0001_seg.nii.gz")))
    tumour_slices = np.flatnonzero(truth.reshape(truth.shape[0], -1).any(1))
    logic.set_first_last("WT", int(tumour_slices[0]), int(tumour_slices[-1]))
    logic.save_case(status="complete", annotator="fixture")
    headless_slicer.clear()
    assert weak.entry.status == "complete"
    out = tmp_path_factory.mktemp("run")
    config = logic.training_config(logic.scan_cases(cases_root), model_id="tiny-logic", out=out, options=TINY_OPTIONS,
                                   weak=["Phantom_0001"], **{**TINY_RUN, "iterations": 100000, "checkpoint_every": 1})
    first = logic.start_training(config)
    deadline = time.monotonic() + 120
    while first.checkpoint is None:  # cancel once the run can be resumed
        assert first.running and time.monotonic() < deadline, first.client.outcome().message
        first.poll()
        time.sleep(0.05)
    started = time.monotonic()
    first.cancel()
    cancel_seconds = time.monotonic() - started
    reached = int(load_checkpoint(out / CHECKPOINT_NAME)["iteration"])
    assert reached >= first.checkpoint
    config = {**config, "iterations": reached + 2}
    run = logic.resume_training(config)
    outcome = run.wait(timeout=300)
    assert outcome.ok, outcome.message + "\n".join(outcome.stderr_tail[-20:])
    return Trained(first, cancel_seconds, reached, run, run.finish(), config)


def _load_case_volumes(scene, folder):
    from weakseg.io.image import read_image
    from weakseg_mrml.volumes import add_volume_from_image

    return [add_volume_from_image(scene, read_image(path), path.name.split(".")[0])
            for path in sorted(folder.glob("*.nii.gz")) if not path.name.endswith("_seg.nii.gz")]


def test_training_through_the_logic_registers_a_selectable_model(trained, models_env):
    from WeakSegOARLib.logic import WeakSegOARLogic
    from WeakSegTumorLib.logic import WeakSegTumorLogic

    entry = trained.entry
    assert entry.id == "tiny-logic" and str(entry.folder).startswith(models_env["WEAKSEG_MODELS"])
    assert "tiny-logic" in [m.id for m in WeakSegTumorLogic().models()]
    assert "tiny-logic" not in [m.id for m in WeakSegOARLogic().models()]  # a tumour model is not an OAR model
    assert trained.config["full_cases"] == ["Phantom_0002"]
    card = json.loads((entry.folder / "card.json").read_text())
    assert card["training"]["full_cases"] == ["Phantom_0002"] and card["training"]["weak_cases"] == ["Phantom_0001"]
    assert card["training"]["iterations"] == trained.checkpoint + 2
    # the panel's run got the device's preset under the options it set, and said so with a time estimate first
    options = card["training"]["method_config"]
    assert options["base"] == 4 and options["inplane_downsample"] == 2  # tiny network kept; the cpu preset's rest
    from WeakSegTrainLib.logic import WeakSegTrainLogic

    assert WeakSegTrainLogic.saved_config(trained.config["out"])["method_options"]["preset"] == "cpu"
    first_notes = " ".join(trained.cancelled.warnings)
    assert "preset cpu; estimated 100000 iterations x" in first_notes
    assert not any("estimated" in w for w in trained.run.warnings)  # a resumed run keeps its saved settings


def test_training_cancel_is_prompt_and_resume_continues_from_the_checkpoint(trained):
    assert trained.cancel_seconds < 2.0 and not trained.cancelled.running
    with pytest.raises(Exception, match="Cancelled"):
        trained.cancelled.finish()
    assert trained.checkpoint >= 1
    starts = [e for e in trained.run.client.events if e["event"] == "progress" and e.get("message") == "resumed"]
    assert starts and starts[0]["done"] == trained.checkpoint  # continued, not restarted
    losses = trained.run.curves["train/loss"]
    assert [step for step, _ in losses] == [trained.checkpoint + 1, trained.checkpoint + 2]
    assert all(np.isfinite(value) for _, value in losses)
    assert "left" not in trained.run.status_text  # finished: no ETA shown


def test_sequences_are_auto_assigned_from_names(mrml_scene, cases_root):
    from WeakSegTumorLib.logic import WeakSegTumorLogic

    _load_case_volumes(mrml_scene, cases_root / "Phantom_0001")
    assigned = WeakSegTumorLogic(mrml_scene).auto_assign()
    assert {k: v.GetName() for k, v in assigned.items()} == {
        "t1": "Phantom_0001_t1", "t1c": "Phantom_0001_t1ce", "t2": "Phantom_0001_t2", "flair": "Phantom_0001_flair"}


def test_segment_gives_a_node_with_geometry_terminology_provenance(mrml_scene, trained, cases_root, models_env,
                                                                   tmp_path):
    from slicer import vtkMRMLSubjectHierarchyNode

    from WeakSegTumorLib.logic import WeakSegTumorLogic
    from weakseg_mrml.provenance import read_provenance
    from weakseg_mrml.segmentation import labelmap_from_segmentation
    from weakseg_mrml.terminology import Terminology
    from weakseg_mrml.volumes import image_from_volume

    entry = trained.entry
    volumes = _load_case_volumes(mrml_scene, cases_root / "Phantom_0001")
    sh = vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(mrml_scene)
    study = sh.CreateStudyItem(sh.CreateSubjectItem(sh.GetSceneItemID(), "P1"), "MR")
    for volume in volumes:
        sh.SetItemParent(sh.GetItemByDataNode(volume), study)
    logic = WeakSegTumorLogic(mrml_scene, worker_env=models_env)
    inputs = logic.auto_assign()
    kept = tmp_path / "kept"
    run = logic.start_segment(inputs, "tiny-logic", device="cpu", work_dir=tmp_path, keep_outputs=kept)
    run.wait(timeout=300)
    node = run.finish()

    flair = inputs["flair"]
    assert node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole()) is flair
    assert sh.GetItemParent(sh.GetItemByDataNode(node)) == study
    segmentation = node.GetSegmentation()
    assert [segmentation.GetNthSegment(i).GetName() for i in range(3)] == ["Necrosis", "Edema", "Enhancing"]
    assert Terminology.parse(segmentation.GetSegment("edema").GetTerminology()).type == ("SCT", "79654002", "Edema")
    provenance = read_provenance(node)
    card = json.loads((entry.folder / "card.json").read_text())
    assert provenance.model_id == "tiny-logic" and provenance.model_sha256 == card["weights"]["sha256"]
    assert provenance.device == "cpu" and provenance.parameters["device"] == "cpu"
    # The node holds exactly what the worker wrote, on the flair grid.
    written = sitk.ReadImage(str(next(kept.glob("*_labels.nii.gz"))))
    back = labelmap_from_segmentation(node, image_from_volume(flair))
    assert np.array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(written))
    assert run.stage == "write" and run.fraction == 1.0
    # The job folder (copies of the patient's images, the worker's files) is gone, and no path to it is
    # saved with the scene; only the folder the user asked to keep holds outputs.
    assert not run.client.work_dir.exists() and run.client.work_dir.parent == tmp_path
    assert node.GetAttribute("WeakSeg.Outputs") is None
    for item in logic.low_confidence_slices(node):
        point = logic.slice_point(node, item)
        assert point[2] == pytest.approx(item["z_mm"])


def test_segment_refuses_missing_sequence_before_starting(mrml_scene, trained, cases_root):
    from WeakSegTumorLib.logic import WeakSegTumorLogic
    from weakseg.errors import WeakSegError

    _load_case_volumes(mrml_scene, cases_root / "Phantom_0001")
    logic = WeakSegTumorLogic(mrml_scene)
    inputs = logic.auto_assign()
    del inputs["t1c"]
    with pytest.raises(WeakSegError, match="assign a volume to t1c"):
        logic.start_segment(inputs, "tiny-logic")


def test_annotation_is_saved_and_resumed_from_the_store(mrml_scene, cases_root, headless_slicer):
    from WeakSegTrainLib.logic import WeakSegTrainLogic
    from weakseg.labels import ABSENT, FOREGROUND, PRESENT, UNKNOWN, WeakLabelStore
    from weakseg_mrml.segmentation import add_segment_from_mask
    from weakseg_mrml.tags import get_tag
    from weakseg_mrml.volumes import image_from_volume

    logic = WeakSegTrainLogic(mrml_scene)
    entry = next(e for e in logic.scan_cases(cases_root) if e.case_id == "Phantom_0002")
    assert entry.status == "not started"
    case = logic.open_case(entry)
    reference = image_from_volume(case.reference)
    # Mark the slice under a point as the user scrolls (the keyboard shortcut's call), and a range.
    lps = reference.TransformIndexToPhysicalPoint((10, 10, 12))
    assert logic.mark_slice("ET", PRESENT, ras=(-lps[0], -lps[1], lps[2])) == 12
    logic.mark_slice("ET", ABSENT, index=2)
    logic.set_first_last("WT", 20, 9)
    assert logic.strip("WT") == [(0, 8, "absent"), (9, 20, "present"), (21, 31, "absent")]
    node, ids = logic.scribble_segments("WT")
    stroke = np.zeros(tuple(reversed(reference.GetSize())), bool)
    stroke[12, 20:24, 20:30] = True
    segment = node.GetSegmentation().GetSegment(ids["foreground"])
    tags = {k: get_tag(segment, k) for k in ("WeakSeg.Role", "WeakSeg.Class", "WeakSeg.Polarity")}
    add_segment_from_mask(node, stroke, reference, ids["foreground"], segment.GetName(), segment.GetColor(), tags)
    logic.save_case(annotator="tester")

    assert [e.status for e in logic.scan_cases(cases_root) if e.case_id == "Phantom_0002"] == ["partial"]
    store = WeakLabelStore.open(entry.folder, create=False)
    assert store.slice_ranges("WT") == [(9, 20)] and store.annotator == "tester"
    assert (store.scribbles("WT") == FOREGROUND).sum() == stroke.sum()

    headless_slicer.clear()  # a later session: nothing in the scene, everything from disk
    resumed = WeakSegTrainLogic(mrml_scene).open_case(entry)
    et = np.full(32, UNKNOWN, np.int8)
    et[12], et[2] = PRESENT, ABSENT
    from weakseg_mrml import scribbles as scr
    from weakseg_mrml import slice_labels as sl

    assert np.array_equal(sl.get_labels(resumed.tables["axial"], "ET"), et)
    assert np.array_equal(scr.scribble_labels(resumed.scribbles, "WT", reference) == FOREGROUND, stroke)


def test_catalogue_lists_what_the_registry_finds(trained):
    from weakseg.models import list_models as registry_models
    from weakseg_mrml.catalog import list_models

    assert sorted(m.folder.name for m in list_models()) == registry_models()
    from weakseg.models import load_model

    for entry in list_models():  # the panel's TTA box starts where each card's inference does
        assert entry.tta == bool(load_model(entry.folder).card.inference.get("tta", False)), entry.id


def test_segment_with_the_shipped_default_model(mrml_scene, cases_root, models_env):
    from WeakSegTumorLib.logic import WeakSegTumorLogic
    from weakseg_mrml.catalog import PACKAGE_MODELS
    from weakseg_mrml.provenance import read_provenance
    from weakseg_mrml.terminology import Terminology

    card_path = PACKAGE_MODELS / "default-tumour" / "card.json"
    if not card_path.is_file():
        pytest.skip("the default tumour model is not shipped in this checkout yet")
    card = json.loads(card_path.read_text())
    _load_case_volumes(mrml_scene, cases_root / "Phantom_0001")
    logic = WeakSegTumorLogic(mrml_scene, worker_env=models_env)
    default = next(m for m in logic.models() if m.folder == card_path.parent)
    inputs = logic.auto_assign()
    node = logic.segment(inputs, default, device="cpu", timeout=300)
    assert node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole()) is inputs[logic.reference_sequence(inputs, default)]
    provenance = read_provenance(node)
    assert provenance.model_id == card["id"] and provenance.model_sha256 == card["weights"]["sha256"]
    segmentation = node.GetSegmentation()
    assert segmentation.GetNumberOfSegments() == len(card["labels"])
    for label in card["labels"]:
        segment = segmentation.GetSegment(label["name"])
        if label.get("snomed_code"):
            assert Terminology.parse(segment.GetTerminology()).type[1] == label["snomed_code"]


def test_a_case_without_some_sequences_goes_to_the_family_member_trained_for_what_it_has(mrml_scene, cases_root,
                                                                                       models_env):
    """Only T1c loaded, the four-sequence default chosen: the panel may Segment, says beforehand that
    default-tumour-t1c will, and the result carries that model and the note; with no T1c it is refused."""
    from WeakSegTumorLib.logic import WeakSegTumorLogic
    from weakseg.errors import WeakSegError
    from weakseg_mrml.provenance import read_provenance
    from weakseg_mrml.segment_logic import family_fallback, missing_inputs

    _load_case_volumes(mrml_scene, cases_root / "Phantom_0001")
    logic = WeakSegTumorLogic(mrml_scene, worker_env=models_env)
    default = logic.model("default-tumour")
    if not default.family:
        pytest.skip("the shipped default tumour model has no family in this checkout")
    assigned = logic.auto_assign()
    t1c_only = {"t1c": assigned["t1c"]}
    member, note = family_fallback(t1c_only, default)
    assert member.id == "default-tumour-t1c" and missing_inputs(t1c_only, default) == []
    assert note == ("case has t1c, model 'default-tumour' needs flair+t1+t1c+t2: segmenting with "
                    "'default-tumour-t1c', trained for t1c only")
    assert family_fallback(assigned, default) == (default, None)  # every sequence there: the model itself
    flair_t2 = {"flair": assigned["flair"], "t2": assigned["t2"]}
    assert missing_inputs(flair_t2, default) == ["t1", "t1c"]  # no member fits: refused, nothing zero-filled
    with pytest.raises(WeakSegError, match="assign a volume to t1, t1c"):
        logic.start_segment(flair_t2, default)

    node = logic.segment(t1c_only, default, device="cpu", timeout=300)
    assert read_provenance(node).model_id == "default-tumour-t1c"
    assert note in logic.result_warnings(node)
    assert node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole()) is assigned["t1c"]


def test_training_config_refuses_what_cannot_train(tmp_path, headless_slicer):
    from WeakSegTrainLib.logic import WeakSegTrainLogic
    from weakseg.errors import WeakSegError

    write_demo_cases(tmp_path / "cases", seeds=(5,))
    logic = WeakSegTrainLogic(headless_slicer.scene)
    cases = logic.scan_cases(tmp_path / "cases")
    with pytest.raises(WeakSegError, match="Phantom_0005 have no saved slice labels"):
        logic.training_config(cases, out=tmp_path / "run", weak=["Phantom_0005"])
    with pytest.raises(WeakSegError, match="pick at least one case"):
        logic.training_config([], out=tmp_path / "run")
    with pytest.raises(WeakSegError, match="may hold only letters"):
        logic.training_config(cases, out=tmp_path / "run", model_id="../escape")
    config = logic.training_config(cases, out=tmp_path / "run")
    assert config["model_id"].startswith("mixed-") and config["full_cases"] == ["Phantom_0005"]
