"""Volume nodes ⇄ SimpleITK images, with geometry carried exactly.

Arrays keep the engine's (z, y, x) order, which is also how ``vtkImageData`` stores voxels
(x fastest), so no transposition is needed. A volume under a linear parent transform is
read in world coordinates (the transform is baked into the geometry); a non-linear
transform would need resampling, so it is refused rather than silently ignored.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkOrientedImageData
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkCommonMath import vtkMatrix4x4

from weakseg.errors import WeakSegError
from weakseg_mrml.geometry import from_vtk_matrix, ijk_to_ras_array, lps_geometry, to_vtk_matrix


def _image_data_from_array(array: np.ndarray) -> vtkImageData:
    array = np.ascontiguousarray(array)
    if array.ndim != 3:
        raise WeakSegError(f"expected a 3D (z, y, x) array, got shape {array.shape}")
    image_data = vtkImageData()
    image_data.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    scalars = numpy_support.numpy_to_vtk(array.ravel(), deep=True)
    image_data.GetPointData().SetScalars(scalars)
    return image_data


def array_from_image_data(image_data: vtkImageData) -> np.ndarray:
    """A copy of the voxels as a (z, y, x) array."""
    dims = image_data.GetDimensions()
    scalars = image_data.GetPointData().GetScalars()
    if scalars is None:
        return np.zeros((dims[2], dims[1], dims[0]), dtype=np.uint8)
    if scalars.GetNumberOfComponents() != 1:
        raise WeakSegError(f"volume has {scalars.GetNumberOfComponents()} components per voxel; a scalar volume is needed")
    return numpy_support.vtk_to_numpy(scalars).reshape(dims[2], dims[1], dims[0]).copy()


def world_ijk_to_ras(volume_node) -> np.ndarray:
    """Index-to-world (RAS) matrix, including a linear parent transform."""
    matrix = vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    ijk_to_ras = from_vtk_matrix(matrix)
    transform = volume_node.GetParentTransformNode()
    if transform is not None:
        if not transform.IsTransformToWorldLinear():
            raise WeakSegError(f"volume '{volume_node.GetName()}' is under a non-linear transform; harden it first")
        to_world = vtkMatrix4x4()
        transform.GetMatrixTransformToWorld(to_world)
        ijk_to_ras = from_vtk_matrix(to_world) @ ijk_to_ras
    return ijk_to_ras


def image_from_volume(volume_node) -> sitk.Image:
    """The volume as a SimpleITK image in LPS, voxels copied."""
    if volume_node is None or volume_node.GetImageData() is None:
        name = volume_node.GetName() if volume_node is not None else "None"
        raise WeakSegError(f"volume '{name}' has no image data")
    image = sitk.GetImageFromArray(array_from_image_data(volume_node.GetImageData()))
    origin, spacing, direction = lps_geometry(world_ijk_to_ras(volume_node))
    image.SetOrigin(origin)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    return image


def set_volume_from_image(volume_node, image: sitk.Image) -> None:
    """Replace a volume node's voxels and geometry with ``image``'s."""
    volume_node.SetAndObserveImageData(_image_data_from_array(sitk.GetArrayFromImage(image)))
    volume_node.SetIJKToRASMatrix(to_vtk_matrix(ijk_to_ras_array(image)))
    volume_node.Modified()


def add_volume_from_image(scene, image: sitk.Image, name: str, *, labelmap: bool = False):
    """Add a scalar (or labelmap) volume node holding ``image``, with a default display node."""
    node = vtkMRMLLabelMapVolumeNode() if labelmap else vtkMRMLScalarVolumeNode()
    node.SetName(scene.GenerateUniqueName(name))
    scene.AddNode(node)
    set_volume_from_image(node, image)
    node.CreateDefaultDisplayNodes()
    return node


def oriented_image_from_array(array: np.ndarray, reference: sitk.Image) -> vtkOrientedImageData:
    """A ``vtkOrientedImageData`` (the segmentation's voxel container) on ``reference``'s grid."""
    if tuple(array.shape) != tuple(reversed(reference.GetSize())):
        raise WeakSegError(f"array shape {array.shape} does not match the reference grid {tuple(reversed(reference.GetSize()))}")
    oriented = vtkOrientedImageData()
    oriented.ShallowCopy(_image_data_from_array(array))
    oriented.SetImageToWorldMatrix(to_vtk_matrix(ijk_to_ras_array(reference)))
    return oriented


def image_from_oriented_image(oriented: vtkOrientedImageData) -> sitk.Image:
    matrix = vtkMatrix4x4()
    oriented.GetImageToWorldMatrix(matrix)
    image = sitk.GetImageFromArray(array_from_image_data(oriented))
    _, spacing, direction = lps_geometry(from_vtk_matrix(matrix))
    extent = oriented.GetExtent()
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    # vtkOrientedImageData may start at a non-zero extent; move the origin to index (0, 0, 0) of the array.
    first = np.array(from_vtk_matrix(matrix)[:3, :3]) @ np.array(extent[0::2], dtype=float) + from_vtk_matrix(matrix)[:3, 3]
    image.SetOrigin(tuple((np.diag([-1.0, -1.0, 1.0]) @ first).tolist()))
    return image
