"""Volume nodes ⇄ SimpleITK images on a real MRML scene: voxels and LPS↔RAS geometry exact."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from slicer import vtkMRMLLinearTransformNode, vtkMRMLVolumeArchetypeStorageNode
from vtkmodules.vtkCommonMath import vtkMatrix4x4

from weakseg_mrml.volumes import add_volume_from_image, image_from_volume


def _oblique_image(dtype=np.int16) -> sitk.Image:
    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.integers(-1000, 3000, size=(7, 9, 11)).astype(dtype))
    image.SetSpacing((0.9, 1.25, 3.0))
    image.SetOrigin((-101.5, 37.25, -12.0))
    rotation = sitk.VersorTransform((0.3, -0.2, 1.0), 0.4).GetMatrix()  # oblique, right-handed
    image.SetDirection(rotation)
    return image


def test_volume_round_trip_is_exact(mrml_scene):
    image = _oblique_image()
    node = add_volume_from_image(mrml_scene, image, "t1")
    back = image_from_volume(node)
    assert np.array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(image))
    assert back.GetPixelID() == image.GetPixelID()
    np.testing.assert_allclose(back.GetOrigin(), image.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(back.GetSpacing(), image.GetSpacing(), atol=1e-9)
    np.testing.assert_allclose(back.GetDirection(), image.GetDirection(), atol=1e-9)


def test_voxel_lands_at_the_same_patient_point_in_ras(mrml_scene):
    image = _oblique_image()
    node = add_volume_from_image(mrml_scene, image, "t1")
    matrix = vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    for ijk in [(0, 0, 0), (10, 8, 6), (3, 7, 2)]:
        ras = matrix.MultiplyPoint((*ijk, 1.0))[:3]
        lps = image.TransformIndexToPhysicalPoint(ijk)
        np.testing.assert_allclose(ras, (-lps[0], -lps[1], lps[2]), atol=1e-9)


def test_file_written_by_slicer_reads_identically_with_itk(mrml_scene, tmp_path):
    """An independent reader (ITK) sees the geometry Slicer wrote: the conversion is not self-consistent only."""
    image = _oblique_image(np.float32)
    node = add_volume_from_image(mrml_scene, image, "flair")
    storage = vtkMRMLVolumeArchetypeStorageNode()
    mrml_scene.AddNode(storage)
    storage.SetFileName(str(tmp_path / "flair.nrrd"))
    assert storage.WriteData(node)
    itk = sitk.ReadImage(str(tmp_path / "flair.nrrd"))
    assert np.array_equal(sitk.GetArrayViewFromImage(itk), sitk.GetArrayViewFromImage(image))
    np.testing.assert_allclose(itk.GetOrigin(), image.GetOrigin(), atol=1e-5)
    np.testing.assert_allclose(itk.GetDirection(), image.GetDirection(), atol=1e-6)


def test_linear_parent_transform_is_applied(mrml_scene):
    image = _oblique_image()
    node = add_volume_from_image(mrml_scene, image, "t1")
    transform = vtkMRMLLinearTransformNode()
    mrml_scene.AddNode(transform)
    shift = vtkMatrix4x4()
    shift.SetElement(0, 3, 5.0)  # 5 mm towards patient right... in RAS, i.e. -5 mm in LPS x
    transform.SetMatrixTransformToParent(shift)
    node.SetAndObserveTransformNodeID(transform.GetID())
    back = image_from_volume(node)
    np.testing.assert_allclose(np.array(back.GetOrigin()) - image.GetOrigin(), (-5.0, 0.0, 0.0), atol=1e-9)


def test_labelmap_volume_keeps_integer_values(mrml_scene):
    labels = sitk.GetImageFromArray(np.arange(60, dtype=np.uint8).reshape(3, 4, 5) % 5)
    node = add_volume_from_image(mrml_scene, labels, "labels", labelmap=True)
    assert node.IsA("vtkMRMLLabelMapVolumeNode")
    assert np.array_equal(sitk.GetArrayViewFromImage(image_from_volume(node)), sitk.GetArrayViewFromImage(labels))


def test_volume_without_voxels_is_a_one_line_error(mrml_scene):
    from slicer import vtkMRMLScalarVolumeNode

    from weakseg.errors import WeakSegError

    node = vtkMRMLScalarVolumeNode()
    node.SetName("empty")
    mrml_scene.AddNode(node)
    with pytest.raises(WeakSegError, match="'empty' has no image data"):
        image_from_volume(node)
