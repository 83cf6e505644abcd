"""Files ⇄ nodes with the storage nodes Slicer itself uses (``slicer.util`` loaders need the app).

Writes go through a temporary name in the target folder and are moved into place, so a
failed save never leaves a truncated file under the final name.
"""

from __future__ import annotations

from pathlib import Path

from slicer import vtkMRMLSegmentationNode, vtkMRMLSegmentationStorageNode, vtkMRMLVolumeArchetypeStorageNode

from weakseg.errors import WeakSegError
from weakseg.io.atomic import atomic_path


def _write(node, storage, path: Path) -> Path:
    scene = node.GetScene()
    scene.AddNode(storage)
    try:
        with atomic_path(path) as tmp:
            storage.SetFileName(str(tmp))
            if not storage.WriteData(node):
                raise WeakSegError(f"could not write '{node.GetName()}'", path)
    finally:
        scene.RemoveNode(storage)
    return path


def save_segmentation(node, path: str | Path) -> Path:
    """Write a ``.seg.nrrd`` (names, colours, terminology, tags, shared layers)."""
    path = Path(path)
    if not path.name.endswith(".seg.nrrd"):
        raise WeakSegError("segmentations are saved as .seg.nrrd", path)
    storage = vtkMRMLSegmentationStorageNode()
    storage.SetUseCompression(1)
    return _write(node, storage, path)


def save_volume(node, path: str | Path) -> Path:
    """Write a volume as NRRD or NIfTI (chosen by the extension)."""
    return _write(node, vtkMRMLVolumeArchetypeStorageNode(), Path(path))


def load_segmentation(scene, path: str | Path, name: str | None = None):
    """Read a ``.seg.nrrd`` into a new segmentation node (with display and storage nodes)."""
    path = Path(path)
    if not path.is_file():
        raise WeakSegError("file not found", path)
    node = vtkMRMLSegmentationNode()
    node.SetName(scene.GenerateUniqueName(name or path.name.split(".")[0]))
    scene.AddNode(node)
    storage = vtkMRMLSegmentationStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    node.SetAndObserveStorageNodeID(storage.GetID())
    if not storage.ReadData(node):
        scene.RemoveNode(node)
        scene.RemoveNode(storage)
        raise WeakSegError("could not be read as a segmentation", path)
    node.CreateDefaultDisplayNodes()
    return node
