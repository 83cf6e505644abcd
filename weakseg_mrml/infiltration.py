"""The clinician's infiltration flow in the scene (paper 000, spec §7): channels + core/FLAIR segments → results.

``apply`` reads the channel volumes and the segmentation holding the enhancing core and the
FLAIR abnormality, runs the EMReDL model through the engine's one path
(``weakseg.methods.emredl.infiltration``, the same as ``weakseg infiltration``) and adds a
tumour-probability volume, a segmentation with "Core tumour", "Infiltrated tumour" and
"Non-infiltrated oedema", and a volume table in cm³. ``set_tau`` re-thresholds the kept
probability map (no network), so a slider can update segments and table live. The
"Infiltrated tumour" segment is tagged as a CTV candidate for the RT-Struct export.
"""

from __future__ import annotations

from dataclasses import dataclass

from slicer import vtkMRMLTableNode
from vtk import vtkDoubleArray, vtkStringArray

from weakseg.errors import WeakSegError
from weakseg_mrml import ATTRIBUTE_PREFIX, ROLE_ATTRIBUTE
from weakseg_mrml.logic_base import SceneLogic
from weakseg_mrml.tags import RT_TYPE_TAG

CORE_NAMES = ("enhancing core", "core", "tumour core", "tumor core", "tc", "roi1")
FLAIR_NAMES = ("flair abnormality", "flair", "whole tumour", "whole tumor", "wt", "flair roi")
ROLE = "infiltration"
TAU_ATTRIBUTE = ATTRIBUTE_PREFIX + "InfiltrationTau"


@dataclass
class InfiltrationOutputs:
    """What Apply made: the nodes and the engine result kept for re-thresholding."""

    result: object
    probability_node: object
    segmentation_node: object
    table_node: object
    reference_volume: object

    @property
    def tau(self) -> float:
        return self.result.tau


def find_segment(segmentation_node, names: tuple[str, ...]) -> str:
    """ID of the first segment whose name (case-insensitive) is one of ``names``."""
    segmentation = segmentation_node.GetSegmentation()
    by_name = {}
    for index in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(index)
        by_name.setdefault(segmentation.GetSegment(segment_id).GetName().strip().lower(), segment_id)
    for name in names:
        if name in by_name:
            return by_name[name]
    raise WeakSegError(f"segmentation '{segmentation_node.GetName()}' has no segment named "
                       f"{' or '.join(repr(n) for n in names[:2])} (it has: {', '.join(sorted(by_name)) or 'none'})")


def tumour_result_masks(segmentation_node, reference):
    """(core, FLAIR) from a tumour model's result: core = necrosis ∪ enhancing, FLAIR = core ∪ edema (spec §7)."""
    from weakseg_mrml.segmentation import segment_mask

    segmentation = segmentation_node.GetSegmentation()
    ids = {segmentation.GetSegment(segmentation.GetNthSegmentID(i)).GetName().strip().lower():
           segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())}
    if not {"necrosis", "enhancing", "edema"} <= set(ids):
        return None
    necrosis, enhancing, edema = (segment_mask(segmentation_node, ids[k], reference) for k in ("necrosis", "enhancing",
                                                                                               "edema"))
    return necrosis | enhancing, necrosis | enhancing | edema


CHANNEL_ALIASES = {"t1c": ("t1ce", "t1c", "t1gd", "t1 contrast", "t1+c"), "flair": ("flair", "t2f"),
                   "t1": ("t1", "t1n"), "t2": ("t2", "t2w")}


def auto_assign(names: list[str], volume_nodes) -> dict:
    """{channel: volume node} by node name: ``*_rcbv``, ``rCBV``, BraTS suffixes; each volume used once."""
    import re

    out, used = {}, set()
    for name in sorted(names, key=lambda n: -len(n)):  # longer names first: 't1c' before 't1'
        aliases = CHANNEL_ALIASES.get(name, (name,))
        for node in volume_nodes:
            label = node.GetName().strip().lower()
            if node.GetID() in used:
                continue
            if any(re.search(rf"(^|[_\-\s]){re.escape(a)}$", label) or label == a for a in aliases):
                out[name] = node
                used.add(node.GetID())
                break
    return out


class InfiltrationLogic(SceneLogic):
    """Apply / set_tau, callable without a GUI (tested on slicer-core)."""

    @staticmethod
    def models() -> list:
        """Installed EMReDL models (catalog entries)."""
        from weakseg_mrml.catalog import list_models

        return [m for m in list_models() if m.method == "emredl"]

    def auto_assign(self, model) -> dict:
        from weakseg.methods.emredl.infiltration import model_config

        nodes = [n for n in self.scene.GetNodesByClass("vtkMRMLScalarVolumeNode") if n.GetAttribute(ROLE_ATTRIBUTE) != ROLE
                 and n.GetClassName() == "vtkMRMLScalarVolumeNode"]
        return auto_assign(model_config(model).names, nodes)

    def inputs(self, model, channel_nodes: dict, masks_node, core_segment: str | None = None,
               flair_segment: str | None = None):
        """Engine inputs from nodes: every channel as an image, the two segments as masks on the first channel's grid."""
        from weakseg.methods.emredl import infiltration as inf
        from weakseg_mrml.segmentation import segment_mask
        from weakseg_mrml.volumes import image_from_volume

        config = inf.model_config(model)
        missing = [n for n in config.names if channel_nodes.get(n) is None]
        if missing:
            raise WeakSegError(f"choose a volume for channel(s) {', '.join(missing)} (model '{model.card.id}' needs them)")
        images = {n: image_from_volume(channel_nodes[n]) for n in config.names}
        reference = images[config.names[0]]
        if core_segment is None and flair_segment is None:
            derived = tumour_result_masks(masks_node, reference)
            if derived is not None:  # the tumour model's output: no drawing needed
                return inf.Inputs(images, *derived)
        core_id = core_segment or find_segment(masks_node, CORE_NAMES)
        flair_id = flair_segment or find_segment(masks_node, FLAIR_NAMES)
        core = segment_mask(masks_node, core_id, reference)
        flair = segment_mask(masks_node, flair_id, reference)
        return inf.Inputs(images, core, flair)

    def apply(self, model, channel_nodes: dict, masks_node, *, core_segment: str | None = None,
              flair_segment: str | None = None, tau: float | None = None, device: str = "auto",
              with_prior: bool = False, outputs: InfiltrationOutputs | None = None) -> InfiltrationOutputs:
        """Run the model and add (or refresh ``outputs``') probability volume, segmentation and volume table."""
        from weakseg.methods.emredl import infiltration as inf
        from weakseg_mrml.volumes import add_volume_from_image, set_volume_from_image

        if isinstance(model, str):
            from weakseg.models.registry import load_model

            model = load_model(model)
        inputs = self.inputs(model, channel_nodes, masks_node, core_segment, flair_segment)
        result = inf.run_infiltration(model, inputs, tau=tau, with_prior=with_prior, device=device)
        config = inf.model_config(model)
        reference_volume = channel_nodes[config.names[0]]
        probability = result.image(result.probability)
        if outputs is None:
            node = add_volume_from_image(self.scene, probability, "Tumour probability")
            node.SetAttribute(ROLE_ATTRIBUTE, ROLE)
        else:
            node = outputs.probability_node
            set_volume_from_image(node, probability)
        if with_prior:
            for name, array in (("Prior probability", result.prior), ("Prior vacuity", result.vacuity)):
                add_volume_from_image(self.scene, result.image(array), name).SetAttribute(ROLE_ATTRIBUTE, ROLE)
        outputs = InfiltrationOutputs(result, node, outputs.segmentation_node if outputs else None,
                                      outputs.table_node if outputs else None, reference_volume)
        return self.set_tau(outputs, result.tau)

    def set_tau(self, outputs: InfiltrationOutputs, tau: float) -> InfiltrationOutputs:
        """Re-threshold at ``tau``: the three segments and the volume table follow (no network run)."""
        from weakseg.methods.emredl import outputs as em_outputs
        from weakseg_mrml.segmentation import SegmentSpec, segmentation_from_labelmap

        if not 0.0 < float(tau) < 1.0:
            raise WeakSegError(f"tau must be in (0, 1), got {tau}")
        result = outputs.result
        result.tau = float(tau)
        labels = result.image(result.labelmap())
        specs = [SegmentSpec.from_label({"name": e.name, "value": e.value, "color": e.color,
                                         "snomed_code": e.snomed_code, "snomed_meaning": e.snomed_meaning}, tumour=True)
                 for e in em_outputs.emredl_labels()]
        node = segmentation_from_labelmap(self.scene, labels, specs, name="Infiltration",
                                          volume_node=outputs.reference_volume, node=outputs.segmentation_node)
        for value, (_name, rt_type) in em_outputs.RT_ROIS.items():  # the infiltration exports as a CTV candidate
            segment = node.GetSegmentation().GetSegment(specs[value - 1].key)
            if segment is not None:
                segment.SetTag(RT_TYPE_TAG, rt_type)
        node.SetAttribute(TAU_ATTRIBUTE, f"{result.tau:g}")
        outputs.segmentation_node = node
        outputs.table_node = self._update_table(outputs.table_node, result.volumes(), result.tau)
        return outputs

    def _update_table(self, table_node, rows: list[tuple[str, float]], tau: float):
        if table_node is None:
            table_node = vtkMRMLTableNode()
            table_node.SetName(self.scene.GenerateUniqueName("Infiltration volumes"))
            table_node.SetAttribute(ROLE_ATTRIBUTE, ROLE)
            self.scene.AddNode(table_node)
        table = table_node.GetTable()
        table.Initialize()
        names, volumes = vtkStringArray(), vtkDoubleArray()
        names.SetName("Segment")
        volumes.SetName("Volume (cm3)")
        for name, cm3 in rows:
            names.InsertNextValue(name)
            volumes.InsertNextValue(cm3)
        table.AddColumn(names)
        table.AddColumn(volumes)
        table_node.SetAttribute(TAU_ATTRIBUTE, f"{tau:g}")
        table_node.Modified()
        return table_node

    @staticmethod
    def table_rows(table_node) -> dict[str, float]:
        """The volume table as {segment: cm³} (what the panel shows and the tests read)."""
        table = table_node.GetTable()
        names, volumes = table.GetColumnByName("Segment"), table.GetColumnByName("Volume (cm3)")
        return {names.GetValue(i): volumes.GetValue(i) for i in range(table.GetNumberOfRows())}
