"""The Segment panel's own methods (``WeakSegQt/segment_panel.py``) on the real widgets and a real scene.

The panel object is built without Slicer's module machinery (``pythonqt.module_widget_layer``):
its ``ui`` is the loaded .ui, its Logic the real one on a slicer-core scene, its run display and
model section the real shared classes; only the parameter node is a plain namespace with the
wrapper's fields. Checked: Segment is enabled exactly when the chosen model's sequences are
assigned (and says why not), only those sequences are asked for, the review list and the
result buttons follow the output segmentation, the device choice reaches the parameters.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

pytest.importorskip("PyQt5.uic")
pytest.importorskip("slicer_core")

import pythonqt  # noqa: E402
import render_panels  # noqa: E402


def _panel(monkeypatch, scene, module_name: str):
    """The panel class a module file declares, set up as Slicer would (``module_name``: WeakSegTumor or WeakSegOAR)."""
    import slicer

    shown = pythonqt.pythonqt_layer(monkeypatch)
    pythonqt.module_widget_layer(monkeypatch)
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    for name in ("WeakSegQt.runs", "WeakSegQt.models", "WeakSegQt.dependencies", "WeakSegQt.segment_panel"):
        pythonqt.fresh_import(monkeypatch, render_panels.ROOT, name)
        if name == "WeakSegQt.runs":
            pythonqt.property_access(monkeypatch)
    monkeypatch.syspath_prepend(str(render_panels.ROOT / module_name))
    module = pythonqt.fresh_import(monkeypatch, render_panels.ROOT, module_name)
    logic_class = getattr(module, f"{module_name}Logic")
    monkeypatch.setattr(logic_class, "getParameterNode", lambda self: None, raising=False)
    return getattr(module, f"{module_name}Widget")(), shown


@pytest.fixture
def panel(monkeypatch, mrml_scene):
    widget, shown = _panel(monkeypatch, mrml_scene, "WeakSegTumor")
    try:
        widget.setup()  # the panel's own setup: the shared .ui, run display, model section, every connection
        yield widget, widget.ui, shown
    finally:
        widget.cleanup() if hasattr(widget, "runs") else widget.removeObservers()  # no observer outlives it


def test_oar_panel_opens_on_export_without_the_tumour_demo(monkeypatch, mrml_scene):
    widget, _shown = _panel(monkeypatch, mrml_scene, "WeakSegOAR")
    try:
        widget.setup()
        ui = widget.ui
        assert ui.exportCollapsibleButton.collapsed is False and ui.demoCaseButton.isHidden()
        # default-oar ships: the OAR list shows it, and Segment waits for the T1c (or T1) it reads
        assert not ui.modelComboBox.isHidden() and ui.noModelLabel.isHidden()
        assert widget.models.current().kind == "oar"
        assert ui.flairSelector.isHidden() and not ui.t1cSelector.isHidden()
        assert not ui.applyButton.isEnabled(), ui.applyButton.toolTip
    finally:
        widget.cleanup() if hasattr(widget, "runs") else widget.removeObservers()


def _volumes(scene):
    import SimpleITK as sitk

    from weakseg_mrml.volumes import add_volume_from_image

    image = sitk.Image([8, 8, 4], sitk.sitkInt16)
    return {name: add_volume_from_image(scene, image, f"case_{name}") for name in ("flair", "t1", "t1c", "t2")}


def test_segment_is_enabled_only_when_the_model_inputs_are_there(panel, mrml_scene):
    widget, ui, _shown = panel
    entry = widget.models.current()
    assert entry.id == "default-tumour" and widget._parameterNode.modelFolder == str(entry.folder)
    assert ui.exportCollapsibleButton.collapsed is True and not ui.demoCaseButton.isHidden()
    widget._checkCanApply()
    assert not ui.applyButton.isEnabled()
    assert ui.applyButton.toolTip == "Choose a volume for: flair, t1, t1c, t2"
    volumes = _volumes(mrml_scene)
    for name in ("flair", "t1", "t2"):
        setattr(widget._parameterNode, name, volumes[name])
    widget._checkCanApply()  # no member of the default's family reads a case without T1c
    assert not ui.applyButton.isEnabled() and ui.applyButton.toolTip == "Choose a volume for: t1c"
    assert ui.fallbackLabel.isHidden()
    widget._parameterNode.t1c, widget._parameterNode.t2 = volumes["t1c"], None
    widget._checkCanApply()  # T2 missing: the T1c-only member segments, and the panel says so before Segment
    assert ui.applyButton.isEnabled() and not ui.fallbackLabel.isHidden()
    assert "segmenting with 'default-tumour-t1c', trained for t1c only" in ui.fallbackLabel.text
    widget._parameterNode.t2 = volumes["t2"]
    widget._checkCanApply()
    assert ui.applyButton.isEnabled() and ui.applyButton.toolTip == "Segment in the background; Slicer stays usable"
    assert ui.fallbackLabel.isHidden()
    # No result yet: nothing to edit, export or review.
    assert not ui.editButton.isEnabled() and not ui.exportRtstructButton.isEnabled()
    assert ui.reviewCollapsibleButton.isHidden()


def test_only_the_sequences_the_model_reads_are_asked_for(panel, mrml_scene, tmp_path, monkeypatch):
    import shutil

    from WeakSegOARLib.logic import WeakSegOARLogic

    widget, ui, _shown = panel
    # A FLAIR-only model in the user's folder (its card re-sealed, as its publisher would).
    monkeypatch.setenv("WEAKSEG_MODELS", str(tmp_path / "models"))
    folder = tmp_path / "models" / "flair-only"
    shutil.copytree(widget.models.current().folder, folder)
    card = json.loads((folder / "card.json").read_text())
    card.update(id="flair-only", sequences=["flair"])
    if "card_sha256" in card:
        from weakseg.models.card import card_digest

        card["card_sha256"] = card_digest(card)
    (folder / "card.json").write_text(json.dumps(card))
    widget.models.refresh()
    widget.models.select(str(folder))
    assert widget._parameterNode.modelFolder == str(folder)
    assert not ui.flairSelector.isHidden() and ui.t1Selector.isHidden() and ui.t2SelectorLabel.isHidden()
    widget._parameterNode.flair = _volumes(mrml_scene)["flair"]
    widget._checkCanApply()
    assert ui.applyButton.isEnabled()  # FLAIR is all this model needs
    # With no model (an OAR panel on an install without OAR models) every row is shown again.
    from weakseg_mrml import catalog

    monkeypatch.setattr(catalog, "PACKAGE_MODELS", tmp_path / "no-shipped-models")
    widget.logic = WeakSegOARLogic(mrml_scene)
    widget.models.logic = widget.logic
    widget.models.refresh()
    assert not ui.t1Selector.isHidden() and not ui.noModelLabel.isHidden()


def test_result_panel_follows_the_output_segmentation(panel, mrml_scene):
    from weakseg_mrml.segment_logic import LOW_CONFIDENCE_ATTRIBUTE
    from weakseg_mrml.segmentation import SegmentSpec, segmentation_from_labelmap

    import SimpleITK as sitk

    widget, ui, _shown = panel
    volumes = _volumes(mrml_scene)
    labels = sitk.Image([8, 8, 4], sitk.sitkUInt8)
    node = segmentation_from_labelmap(mrml_scene, labels, [SegmentSpec("edema", 2, "Edema", (0.3, 0.7, 1.0))],
                                      name="result", volume_node=volumes["flair"])
    node.SetAttribute(LOW_CONFIDENCE_ATTRIBUTE, json.dumps([{"slice": 2, "z_mm": 2.0, "p": {"edema": 0.5}}]))
    widget._parameterNode.outputSegmentation = node
    widget.updateResultPanel(node)
    assert ui.lowConfidenceList.count() == 1
    assert ui.lowConfidenceList.item(0).text() == "Slice 2 (S 2.0 mm): edema 0.50"
    assert ui.editButton.isEnabled() and ui.exportSegButton.isEnabled()
    assert not ui.reviewCollapsibleButton.isHidden()
    widget._checkCanApply()
    assert ui.flaggedComboBox.isHidden()  # nothing flagged: the export asks nothing
    # GAN seeds flagged slice 1: listed first, and the export asks what to do with it (mark, by default)
    node.SetAttribute(LOW_CONFIDENCE_ATTRIBUTE, json.dumps([
        {"slice": 1, "z_mm": 1.0, "p": {}, "flagged": True, "difference_score": 0.08},
        {"slice": 2, "z_mm": 2.0, "p": {"edema": 0.5}}]))
    widget.updateResultPanel(node)
    widget._checkCanApply()
    assert ui.lowConfidenceList.count() == 2 and "review this" in ui.lowConfidenceList.item(0).text()
    assert not ui.flaggedComboBox.isHidden() and ui.flaggedComboBox.currentData == "mark"
    assert [ui.flaggedComboBox.itemData(i) for i in range(ui.flaggedComboBox.count)] == ["mark", "drop", "keep"]
    widget._parameterNode.outputSegmentation = None
    widget.updateResultPanel(None)
    assert ui.lowConfidenceList.count() == 0 and not ui.editButton.isEnabled()


def test_device_choice_reaches_the_parameters(panel):
    widget, ui, _shown = panel
    keys = [ui.deviceComboBox.itemData(i) for i in range(ui.deviceComboBox.count)]
    assert keys[:3] == ["auto", "cpu", "cuda"]
    widget.onDeviceChanged(1)
    assert widget._parameterNode.device == "cpu"


def test_demo_case_then_segment_from_the_panel(panel, mrml_scene, monkeypatch, tmp_path):
    """The user's first minutes: Load demo case, Segment, see the result; the job folder is gone afterwards."""
    import tempfile
    import time

    import slicer

    widget, ui, _ = panel
    temporary = tmp_path / "slicer-temp"
    temporary.mkdir()
    monkeypatch.setattr(slicer, "app", types.SimpleNamespace(temporaryPath=str(temporary)), raising=False)
    monkeypatch.setattr(slicer.util, "tempDirectory", lambda key: tempfile.mkdtemp(prefix=key, dir=tmp_path),
                        raising=False)
    widget.onDemoCase()
    assert all(getattr(widget._parameterNode, name) is not None for name in ("t1", "t1c", "t2", "flair"))
    assert ui.applyButton.isEnabled()
    widget.onSegment()
    assert widget.runs.busy and not ui.applyButton.isEnabled()  # one job at a time
    end = time.monotonic() + 300
    while widget.runs.busy and time.monotonic() < end:
        render_panels.application().processEvents()
        time.sleep(0.05)
    result = widget._parameterNode.outputSegmentation
    assert result is not None and result.GetSegmentation().GetNumberOfSegments() == 3
    assert ui.lowConfidenceList.count() == len(widget.logic.low_confidence_slices(result))
    log = ui.logTextEdit.toPlainText().splitlines()
    assert log[0].startswith("Demo case loaded") and "Computed on: cpu" in log and log[-1] == "Segment finished"
    assert ui.editButton.isEnabled() and ui.applyButton.isEnabled()
    assert list(temporary.iterdir()) == []  # the copies of the images and the worker's files are removed


def test_export_from_the_panel_references_the_database_series_and_imports_the_result(panel, mrml_scene, monkeypatch,
                                                                                     tmp_path):
    """Export RTSTRUCT as the user meets it: the series comes from the DICOM database, the result goes back in."""
    import tempfile
    import time

    import numpy as np
    import pydicom
    import SimpleITK as sitk
    import slicer
    from slicer import vtkMRMLSubjectHierarchyNode

    from weakseg.rt.series import write_synthetic_series
    from weakseg_mrml.segmentation import SegmentSpec, segmentation_from_labelmap
    from weakseg_mrml.volumes import add_volume_from_image

    widget, ui, _ = panel
    array = np.zeros((8, 24, 24), np.uint8)
    array[2:6, 6:18, 6:18] = 2
    image = sitk.GetImageFromArray((array * 100 + 20).astype(np.int16))
    image.SetSpacing((1.0, 1.0, 3.0))
    write_synthetic_series(image, tmp_path / "database" / "series", "MR")
    files = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID: str(p)
             for p in sorted((tmp_path / "database" / "series").iterdir())}
    volume = add_volume_from_image(mrml_scene, image, "flair")
    sh = vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(mrml_scene)
    sh.SetItemAttribute(sh.GetItemByDataNode(volume), "DICOM.instanceUIDs", " ".join(files))  # as the DICOM plugin
    labels = sitk.GetImageFromArray(array)
    labels.CopyInformation(image)
    node = segmentation_from_labelmap(mrml_scene, labels, [SegmentSpec("edema", 2, "Edema", (0.3, 0.7, 1.0))],
                                      name="result", volume_node=volume)
    widget._parameterNode.outputSegmentation = node

    imported = []

    def import_dicom(folder, copyFiles=False):
        written = sorted(Path(folder).iterdir())
        imported.append(([p.name for p in written], copyFiles, pydicom.dcmread(written[0]).Modality))

    monkeypatch.setattr(slicer, "dicomDatabase", types.SimpleNamespace(fileForInstance=files.get), raising=False)
    monkeypatch.setitem(sys.modules, "DICOMLib", types.SimpleNamespace(DICOMUtils=types.SimpleNamespace(
        importDicom=import_dicom)))
    work_root = tmp_path / "slicer-temp"
    work_root.mkdir()
    monkeypatch.setattr(slicer.util, "tempDirectory", lambda key: tempfile.mkdtemp(prefix=key, dir=work_root),
                        raising=False)
    assert ui.exportRtstructButton.isEnabled()
    widget.onExport("rtstruct")
    end = time.monotonic() + 300
    while widget.runs.busy and time.monotonic() < end:
        render_panels.application().processEvents()
        time.sleep(0.05)
    assert imported == [(["RTSTRUCT.dcm"], True, "RTSTRUCT")]  # a copy goes into the database
    assert list(work_root.iterdir()) == []  # the temporary export folder (links to the series, the file) is gone
    assert ui.logTextEdit.toPlainText().splitlines()[-1] == "Export RTSTRUCT finished"


def test_export_of_a_volume_not_from_dicom_says_so(panel, mrml_scene):
    from weakseg_mrml.segmentation import SegmentSpec, segmentation_from_labelmap

    import SimpleITK as sitk

    widget, ui, shown = panel
    volume = _volumes(mrml_scene)["flair"]
    labels = sitk.Image([8, 8, 4], sitk.sitkUInt8)
    node = segmentation_from_labelmap(mrml_scene, labels, [SegmentSpec("edema", 2, "Edema", (0.3, 0.7, 1.0))],
                                      name="result", volume_node=volume)
    widget._parameterNode.outputSegmentation = node
    widget.onExport("seg")
    assert not widget.runs.busy
    assert len(shown["errors"]) == 1 and "not loaded from the DICOM database" in shown["errors"][0]
