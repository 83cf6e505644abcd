"""Which loaded volume is which MRI sequence, from volume names and DICOM series descriptions."""

from __future__ import annotations

from slicer import vtkMRMLSubjectHierarchyNode

from weakseg import SEQUENCES
from weakseg.io.dicom import sequence_for_description

_DESCRIPTION_ATTRIBUTES = ("DICOM.SeriesDescription", "SeriesDescription")


def describe_volume(node) -> str:
    """The text a sequence is recognised from: the series description if known, then the node name."""
    parts = []
    scene = node.GetScene()
    sh = vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene) if scene is not None else None
    item = sh.GetItemByDataNode(node) if sh is not None else 0
    for attribute in _DESCRIPTION_ATTRIBUTES:
        value = (sh.GetItemAttribute(item, attribute) if item else "") or node.GetAttribute(attribute) or ""
        if value:
            parts.append(value)
    parts.append(node.GetName() or "")
    return " ".join(parts)


def sequence_of(node) -> str | None:
    """'t1', 't1c', 't2', 'flair' or None ('AX T1 POST GD' → 't1c', 'BraTS_001_t1ce' → 't1c')."""
    return sequence_for_description(describe_volume(node))


def assign_sequences(volume_nodes) -> dict[str, object]:
    """Sequence → volume node; the first volume that matches each sequence, each volume used once."""
    assigned: dict[str, object] = {}
    for node in volume_nodes:
        if node.IsA("vtkMRMLLabelMapVolumeNode"):
            continue
        sequence = sequence_of(node)
        if sequence in SEQUENCES and sequence not in assigned:
            assigned[sequence] = node
    return {name: assigned[name] for name in SEQUENCES if name in assigned}


def scalar_volumes(scene) -> list:
    nodes = scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
    out = [nodes.GetItemAsObject(i) for i in range(nodes.GetNumberOfItems())]
    return [n for n in out if not n.IsA("vtkMRMLLabelMapVolumeNode")]
