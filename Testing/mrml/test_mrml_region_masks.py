"""EMReDL's weak labels drawn in Slicer: the core and FLAIR masks painted in WeakSeg Train reach the store
and, from it, the regions EMReDL trains on (ROI1 = core, ROI2 = FLAIR minus core)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from weakseg_mrml.demo import write_demo_cases


def _paint(node, segment_id, mask, reference):
    from weakseg_mrml.segmentation import add_segment_from_mask
    from weakseg_mrml.tags import get_tag

    segment = node.GetSegmentation().GetSegment(segment_id)
    tags = {k: get_tag(segment, k) for k in ("WeakSeg.Role", "WeakSeg.Class")}
    add_segment_from_mask(node, mask, reference, segment_id, segment.GetName(), segment.GetColor(), tags)


def test_core_and_flair_masks_are_saved_resumed_and_become_emredl_regions(mrml_scene, headless_slicer, tmp_path):
    from WeakSegTrainLib.logic import WeakSegTrainLogic
    from weakseg.labels import WeakLabelStore
    from weakseg.labels import ROI1, ROI2, ROI3
    from weakseg.methods.emredl.config import STRUCTURAL, EMReDLConfig
    from weakseg.methods.emredl.data import load_raw_case
    from weakseg_mrml import region_masks
    from weakseg_mrml.volumes import image_from_volume

    write_demo_cases(tmp_path / "cases", seeds=(3,))
    logic = WeakSegTrainLogic(mrml_scene)
    entry = logic.scan_cases(tmp_path / "cases")[0]
    case = logic.open_case(entry)
    assert case.masks is None  # nothing drawn yet: no masks node until asked for
    reference = image_from_volume(case.reference)
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(entry.folder / f"{entry.case_id}_seg.nii.gz")))
    core, flair = np.isin(truth, (1, 4)), truth > 0  # what an annotator would draw roughly

    node, ids = logic.mask_segments()
    names = [node.GetSegmentation().GetSegment(ids[c]).GetName() for c in ("core", "flair")]
    assert names == ["Enhancing core", "FLAIR abnormality"]  # the names the Infiltration section recognises
    assert logic.unsaved_classes() == []  # empty segments: not drawn yet, nothing to lose
    _paint(node, ids["core"], core, reference)
    _paint(node, ids["flair"], flair, reference)
    assert logic.unsaved_classes() == ["core", "flair"]
    logic.save_case(annotator="tester")
    assert logic.unsaved_classes() == []

    store = WeakLabelStore.open(entry.folder, create=False)
    assert np.array_equal(store.full_mask("core"), core) and np.array_equal(store.full_mask("flair"), flair)
    assert store.full_mask("necrosis") is None  # never drawn: unknown, not absent

    headless_slicer.clear()  # a later session: the masks come back from disk
    resumed = WeakSegTrainLogic(mrml_scene).open_case(entry)
    masks = region_masks.drawn_masks(resumed.masks, reference)
    assert set(masks) == {"core", "flair"} and np.array_equal(masks["core"], core)

    config = EMReDLConfig(channels=[list(c) for c in STRUCTURAL])  # the phantom has no physiological maps
    raw = load_raw_case(entry.folder, config)  # what `weakseg train --method emredl` reads from the store
    assert (raw.regions == ROI1).sum() == core.sum()
    assert (raw.regions == ROI2).sum() == (flair & ~core).sum()
    assert (raw.regions == ROI3).any()
