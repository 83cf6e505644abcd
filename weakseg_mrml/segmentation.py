"""Engine results ⇄ segmentation nodes ready for the Segment Editor and DICOM export.

A result becomes one segment per class with a stable ID (the class key), name, colour,
terminology, a review status and provenance tags. The segmentation takes the source
volume as reference geometry and sits under the volume's study in the subject hierarchy,
which is what Slicer's DICOM exporters need (developer notes §1.12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from slicer import (
    vtkMRMLSegmentationNode,
    vtkMRMLSubjectHierarchyNode,
    vtkOrientedImageData,
    vtkOrientedImageDataResample,
    vtkSegment,
    vtkSegmentationConverter,
    vtkSlicerSegmentationsModuleLogic,
)

from weakseg.errors import WeakSegError
from weakseg_mrml import ATTRIBUTE_PREFIX, ROLE_ATTRIBUTE
from weakseg_mrml.tags import get_tag
from weakseg_mrml.provenance import Provenance, write_provenance
from weakseg_mrml.terminology import Terminology, for_label
from weakseg_mrml.geometry import ijk_to_ras_array, to_vtk_matrix
from weakseg_mrml.volumes import array_from_image_data, oriented_image_from_array

RESULT_ROLE = "result"
CLASS_TAG = ATTRIBUTE_PREFIX + "Class"
VALUE_TAG = ATTRIBUTE_PREFIX + "LabelValue"


@dataclass(frozen=True)
class SegmentSpec:
    """One class of a labelmap: its value there, the segment ID/name/colour and its codes."""

    key: str
    value: int
    name: str
    color: tuple[float, float, float]
    terminology: Terminology | None = None

    @classmethod
    def from_label(cls, label: dict, *, tumour: bool) -> "SegmentSpec":
        """From a model card label entry (``name``, ``value``, ``color``, ``snomed_code``, ``snomed_meaning``)."""
        term = for_label(str(label.get("snomed_code", "")), str(label.get("snomed_meaning", "")), tumour=tumour)
        key = str(label["name"])
        name = key[:1].upper() + key[1:]  # segment names as Slicer's own ("Necrosis"); the ID stays the card's key
        return cls(key, int(label["value"]), name, tuple(float(c) for c in label["color"]), term)


def _binary_representation() -> str:
    return vtkSegmentationConverter.GetBinaryLabelmapRepresentationName()


def add_segment_from_mask(segmentation_node, mask: np.ndarray, reference: sitk.Image, segment_id: str, name: str,
                          color: tuple[float, float, float], tags: dict[str, str] | None = None) -> vtkSegment:
    """Add (or replace) one segment holding a binary (z, y, x) mask on ``reference``'s grid."""
    segmentation = segmentation_node.GetSegmentation()
    if segmentation.GetSegment(segment_id) is not None:
        segmentation.RemoveSegment(segment_id)
    segment = vtkSegment()
    segment.SetName(name)
    segment.SetColor(*color)
    segment.AddRepresentation(_binary_representation(),
                              oriented_image_from_array(np.asarray(mask, dtype=np.uint8), reference))
    for tag, value in (tags or {}).items():
        segment.SetTag(tag, value)
    segmentation.AddSegment(segment, segment_id)
    return segmentation.GetSegment(segment_id)


def set_reference_geometry(segmentation_node, reference: sitk.Image, volume_node=None) -> None:
    """Tie the segmentation to the source grid (and volume node, when there is one)."""
    if volume_node is not None:
        segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
        return
    segmentation_node.GetSegmentation().SetConversionParameter(
        vtkSegmentationConverter.GetReferenceImageGeometryParameterName(),
        vtkSegmentationConverter.SerializeImageGeometry(geometry_image(reference)))


def geometry_image(reference: sitk.Image) -> vtkOrientedImageData:
    """An oriented image with ``reference``'s extent and geometry but no voxels."""
    size = reference.GetSize()
    image = vtkOrientedImageData()
    image.SetExtent(0, size[0] - 1, 0, size[1] - 1, 0, size[2] - 1)
    image.SetImageToWorldMatrix(to_vtk_matrix(ijk_to_ras_array(reference)))
    return image


def place_beside(node, volume_node) -> None:
    """Put ``node`` under the same subject-hierarchy parent (study) as ``volume_node``."""
    scene = node.GetScene()
    sh = vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    volume_item = sh.GetItemByDataNode(volume_node)
    node_item = sh.GetItemByDataNode(node)
    if not volume_item:
        return
    if not node_item:
        node_item = sh.CreateItem(sh.GetSceneItemID(), node)
    parent = sh.GetItemParent(volume_item)
    if parent and sh.GetItemParent(node_item) != parent:
        sh.SetItemParent(node_item, parent)


def segmentation_from_labelmap(scene, labels: sitk.Image, specs: list[SegmentSpec], *, name: str,
                               volume_node=None, provenance: Provenance | None = None,
                               mark_for_review: bool = True, node=None):
    """A segmentation node with one segment per spec (empty classes included, so the user sees them).

    ``labels`` must lie on the grid of ``volume_node`` when one is given; voxels whose value
    has no spec are refused, because silently dropping a class would lose part of the result.
    """
    array = sitk.GetArrayViewFromImage(labels)
    known = {spec.value for spec in specs}
    stray = sorted(set(np.unique(array).tolist()) - known - {0})
    if stray:
        raise WeakSegError(f"labelmap has values {stray} that no class describes (classes: {sorted(known)})")
    if volume_node is not None:
        from weakseg.io.image import same_grid
        from weakseg_mrml.volumes import image_from_volume

        if not same_grid(labels, image_from_volume(volume_node)):
            raise WeakSegError(f"result grid does not match volume '{volume_node.GetName()}'")
    if node is None:
        node = vtkMRMLSegmentationNode()
        node.SetName(scene.GenerateUniqueName(name))
        scene.AddNode(node)
        node.CreateDefaultDisplayNodes()
    set_reference_geometry(node, labels, volume_node)
    node.SetAttribute(ROLE_ATTRIBUTE, RESULT_ROLE)
    segmentation = node.GetSegmentation()
    with _batch(node):
        for spec in specs:
            segment = add_segment_from_mask(node, array == spec.value, labels, spec.key, spec.name, spec.color,
                                            {CLASS_TAG: spec.key, VALUE_TAG: str(spec.value)})
            if spec.terminology is not None:
                segment.SetTerminology(spec.terminology.entry())
            if mark_for_review:
                vtkSlicerSegmentationsModuleLogic.SetSegmentStatus(segment, vtkSlicerSegmentationsModuleLogic.InProgress)
        segmentation.CollapseBinaryLabelmaps(False)  # non-overlapping classes share one layer, as Slicer does
    if provenance is not None:
        write_provenance(node, provenance)
    if volume_node is not None:
        place_beside(node, volume_node)
    return node


class _batch:
    """Group segment changes so observers (views, editor) update once."""

    def __init__(self, node):
        self.node = node

    def __enter__(self):
        self.state = self.node.StartModify()

    def __exit__(self, *exc):
        self.node.EndModify(self.state)


def segment_mask(segmentation_node, segment_id: str, reference: sitk.Image) -> np.ndarray:
    """A segment as a boolean (z, y, x) array on ``reference``'s grid (resampled if needed)."""
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
    if segment is None:
        raise WeakSegError(f"segmentation '{segmentation_node.GetName()}' has no segment '{segment_id}'")
    oriented = vtkOrientedImageData()
    if not vtkSlicerSegmentationsModuleLogic.GetSegmentBinaryLabelmapRepresentation(segmentation_node, segment_id, oriented):
        raise WeakSegError(f"segment '{segment_id}' has no binary labelmap")
    shape = tuple(reversed(reference.GetSize()))
    if oriented.GetPointData().GetScalars() is None or _is_empty(oriented):
        return np.zeros(shape, bool)
    resampled = vtkOrientedImageData()
    # Nearest neighbour, padded to the reference extent: voxels are copied, never interpolated.
    vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(
        oriented, geometry_image(reference), resampled, False, True)
    array = array_from_image_data(resampled)
    if array.shape != shape:
        raise WeakSegError(f"segment '{segment_id}' could not be put on the reference grid ({array.shape} vs {shape})")
    return array == segment.GetLabelValue()


def _is_empty(oriented: vtkOrientedImageData) -> bool:
    extent = oriented.GetExtent()
    return extent[0] > extent[1] or extent[2] > extent[3] or extent[4] > extent[5]


def segment_values(segmentation_node) -> dict[str, int]:
    """Segment ID → labelmap value: the value a result was made with, next free values for segments users added."""
    segmentation = segmentation_node.GetSegmentation()
    ids = [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]
    values: dict[str, int] = {}
    for segment_id in ids:
        tag = get_tag(segmentation.GetSegment(segment_id), VALUE_TAG)
        if tag and tag.isdigit() and int(tag) > 0 and int(tag) not in values.values():
            values[segment_id] = int(tag)
    next_value = max(values.values(), default=0) + 1
    for segment_id in ids:
        if segment_id not in values:
            values[segment_id] = next_value
            next_value += 1
    return {segment_id: values[segment_id] for segment_id in ids}


def labelmap_from_segmentation(segmentation_node, reference: sitk.Image,
                               values: dict[str, int] | None = None) -> sitk.Image:
    """A labelmap on ``reference``'s grid; ``values`` maps segment ID → value (default: the result tags)."""
    if values is None:
        values = segment_values(segmentation_node)
    out = np.zeros(tuple(reversed(reference.GetSize())), np.uint8 if max(values.values(), default=0) < 256 else np.uint16)
    for segment_id, value in values.items():
        out[segment_mask(segmentation_node, segment_id, reference)] = value
    image = sitk.GetImageFromArray(out)
    image.CopyInformation(reference)
    return image


VOLUME_REFERENCE = "WeakSeg.volume"
"""Node reference from a weak-label segmentation (scribbles, region masks) to the case volume it annotates."""


def find_role_node(scene, volume_node, role: str):
    """The segmentation of ``role`` (``WeakSeg.Role``) that annotates ``volume_node``, or None."""
    nodes = scene.GetNodesByClass("vtkMRMLSegmentationNode")
    for index in range(nodes.GetNumberOfItems()):
        node = nodes.GetItemAsObject(index)
        if node.GetAttribute(ROLE_ATTRIBUTE) == role and node.GetNodeReferenceID(VOLUME_REFERENCE) == volume_node.GetID():
            return node
    return None


def get_or_create_role_node(scene, volume_node, role: str, suffix: str):
    """That segmentation, created on the volume's grid (named '<volume> <suffix>') when there is none yet."""
    node = find_role_node(scene, volume_node, role)
    if node is not None:
        return node
    from weakseg_mrml.volumes import image_from_volume

    node = vtkMRMLSegmentationNode()
    node.SetName(scene.GenerateUniqueName(f"{volume_node.GetName()} {suffix}"))
    node.SetAttribute(ROLE_ATTRIBUTE, role)
    scene.AddNode(node)
    node.SetNodeReferenceID(VOLUME_REFERENCE, volume_node.GetID())
    node.CreateDefaultDisplayNodes()
    set_reference_geometry(node, image_from_volume(volume_node), volume_node)
    place_beside(node, volume_node)
    return node

