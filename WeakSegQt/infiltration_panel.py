"""The Tumor module's "Infiltration (EMReDL)" section: channels, the two masks, Apply, and a live τ slider.

Thin, like the Segment panel: every action is one ``weakseg_mrml.infiltration.InfiltrationLogic``
call with plain arguments (tested on slicer-core); this file only builds the widgets, fills
them from the chosen model and shows the result. Channel rows follow the model card (one
volume selector per channel it names, in its order); the masks come from a segmentation
holding "Enhancing core" and "FLAIR abnormality" — or the tumour model's own result.
Moving the τ slider re-thresholds the kept probability map (no network), so the segments
and the volume table follow at once.
"""

from __future__ import annotations

import ctk
import qt
import slicer
from slicer.i18n import tr as _

CAVEAT = _("Research use only, not for clinical decisions. The infiltration is a candidate region for the CTV; "
           "the method depends on physiological MRI (DTI, perfusion) being present and co-registered.")


class InfiltrationSection:
    """Builds the collapsible section into ``layout``; ``logic`` is an ``InfiltrationLogic``."""

    def __init__(self, layout, logic, device_getter=lambda: "auto", export=None):
        """``export(segmentation_node)``: the module's RTSTRUCT export (the infiltration goes out as a CTV candidate)."""
        self.logic = logic
        self.device = device_getter
        self.export = export
        self.outputs = None
        self.model = None
        self.channel_selectors: dict = {}

        self.box = ctk.ctkCollapsibleButton()
        self.box.text = _("Infiltration (EMReDL, research)")
        self.box.collapsed = True
        layout.addWidget(self.box)
        form = qt.QFormLayout(self.box)

        self.modelCombo = qt.QComboBox()
        self.modelCombo.toolTip = _("EMReDL models installed in the models folder")
        form.addRow(_("Model:"), self.modelCombo)
        self.channelsForm = qt.QFormLayout()
        form.addRow(self.channelsForm)
        self.autoAssignButton = qt.QPushButton(_("Assign channels by name"))
        form.addRow(self.autoAssignButton)

        self.masksSelector = slicer.qMRMLNodeComboBox()
        self.masksSelector.nodeTypes = ["vtkMRMLSegmentationNode"]
        self.masksSelector.noneEnabled = True
        self.masksSelector.addEnabled = False
        self.masksSelector.removeEnabled = False
        self.masksSelector.toolTip = _("Segmentation with 'Enhancing core' and 'FLAIR abnormality' segments, or the "
                                       "tumour model's result (core = necrosis + enhancing, FLAIR = all three)")
        self.masksSelector.setMRMLScene(slicer.mrmlScene)
        form.addRow(_("Masks:"), self.masksSelector)

        self.applyButton = qt.QPushButton(_("Apply"))
        self.applyButton.toolTip = _("Tumour probability, core / infiltrated / non-infiltrated segments and volumes")
        form.addRow(self.applyButton)

        self.tauSlider = ctk.ctkSliderWidget()
        self.tauSlider.minimum, self.tauSlider.maximum = 0.01, 0.99
        self.tauSlider.singleStep, self.tauSlider.decimals = 0.01, 2
        self.tauSlider.value = 0.5
        self.tauSlider.enabled = False
        self.tauSlider.toolTip = _("Threshold of the tumour probability; segments and volumes follow as you move it")
        form.addRow(_("Threshold τ:"), self.tauSlider)

        self.exportButton = qt.QPushButton(_("Export RTSTRUCT"))
        self.exportButton.toolTip = _("The three segments as an RT Structure Set against the reference series: core as "
                                      "GTV, infiltration as a CTV candidate, the oedema outside it as a control structure")
        self.exportButton.enabled = False
        self.exportButton.setVisible(export is not None)
        form.addRow(self.exportButton)

        self.volumesLabel = qt.QLabel("")
        self.volumesLabel.wordWrap = True
        form.addRow(self.volumesLabel)
        caveat = qt.QLabel(CAVEAT)
        caveat.wordWrap = True
        form.addRow(caveat)

        self.modelCombo.connect("currentIndexChanged(int)", self.onModelChanged)
        self.autoAssignButton.connect("clicked(bool)", self.onAutoAssign)
        self.applyButton.connect("clicked(bool)", self.onApply)
        self.tauSlider.connect("valueChanged(double)", self.onTau)
        self.exportButton.connect("clicked(bool)", self.onExport)
        self.masksSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateState)
        self.refresh()

    # ------------------------------------------------------------------ state

    def refresh(self) -> None:
        """Re-list the EMReDL models (one trained or imported meanwhile appears)."""
        current = self.modelCombo.currentData
        self.modelCombo.clear()
        for entry in self.logic.models():
            self.modelCombo.addItem(entry.title(), str(entry.folder))
        index = self.modelCombo.findData(current) if current else 0
        self.modelCombo.setCurrentIndex(max(index, 0))
        self.box.setVisible(True)
        self.onModelChanged()

    def onModelChanged(self, index=None) -> None:
        from weakseg.methods.emredl.infiltration import model_config
        from weakseg.models.registry import load_model

        folder = self.modelCombo.currentData
        self.model = None
        self.outputs = None
        while self.channelsForm.rowCount():
            self.channelsForm.removeRow(0)
        self.channel_selectors = {}
        if folder:
            with slicer.util.tryWithErrorDisplay(_("Could not load the model"), waitCursor=True):
                self.model = load_model(folder)
                for name in model_config(self.model).names:
                    selector = slicer.qMRMLNodeComboBox()
                    selector.nodeTypes = ["vtkMRMLScalarVolumeNode"]
                    selector.noneEnabled = True
                    selector.addEnabled = False
                    selector.removeEnabled = False
                    selector.setMRMLScene(slicer.mrmlScene)
                    selector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateState)
                    self.channelsForm.addRow(f"{name}:", selector)
                    self.channel_selectors[name] = selector
                self.onAutoAssign()
                tau = float(self.model.card.inference.get("tau", 0.5))
                self.tauSlider.blockSignals(True)
                self.tauSlider.value = tau
                self.tauSlider.blockSignals(False)
        self.tauSlider.enabled = False
        self.exportButton.enabled = False
        self.volumesLabel.text = "" if folder else _("No EMReDL model is installed: train one with WeakSeg Train "
                                                      "(method 'EMReDL infiltration') or import one")
        self.updateState()

    def channels(self) -> dict:
        return {name: s.currentNode() for name, s in self.channel_selectors.items() if s.currentNode() is not None}

    def updateState(self, *args) -> None:
        missing = [n for n in self.channel_selectors if self.channel_selectors[n].currentNode() is None]
        ready = self.model is not None and not missing and self.masksSelector.currentNode() is not None
        self.applyButton.enabled = ready
        if self.model is None:
            self.applyButton.toolTip = _("No EMReDL model selected")
        elif missing:
            self.applyButton.toolTip = _("Choose a volume for: {names}").format(names=", ".join(missing))
        elif self.masksSelector.currentNode() is None:
            self.applyButton.toolTip = _("Choose the segmentation holding the core and FLAIR masks")
        else:
            self.applyButton.toolTip = _("Tumour probability, core / infiltrated / non-infiltrated segments and volumes")

    # ------------------------------------------------------------------ actions

    def onAutoAssign(self) -> None:
        if self.model is None:
            return
        for name, node in self.logic.auto_assign(self.model).items():
            if self.channel_selectors[name].currentNode() is None:
                self.channel_selectors[name].setCurrentNode(node)

    def onApply(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Infiltration failed"), waitCursor=True):
            self.outputs = self.logic.apply(self.model, self.channels(), self.masksSelector.currentNode(),
                                            tau=self.tauSlider.value, device=self.device(), outputs=self.outputs)
            slicer.util.setSliceViewerLayers(foreground=self.outputs.probability_node, foregroundOpacity=0.4)
            self.tauSlider.enabled = True
            self.exportButton.enabled = True
            self.showVolumes()

    def onExport(self) -> None:
        if self.outputs is not None and self.export is not None:
            self.export(self.outputs.segmentation_node)

    def onTau(self, value: float) -> None:
        if self.outputs is None:
            return
        with slicer.util.tryWithErrorDisplay(_("Could not apply the threshold")):
            self.logic.set_tau(self.outputs, float(value))
            self.showVolumes()

    def showVolumes(self) -> None:
        rows = self.logic.table_rows(self.outputs.table_node)
        warnings = "".join(f"<p><b>{w}</b></p>" for w in self.outputs.result.warnings)
        table = "".join(f"<tr><td>{name}</td><td align='right'>{cm3:.2f} cm³</td></tr>" for name, cm3 in rows.items())
        self.volumesLabel.text = f"{warnings}<table>{table}</table><p>τ = {self.outputs.tau:.2f}</p>"
