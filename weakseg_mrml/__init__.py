"""MRML adapters: the only place where WeakSeg's engine data meets Slicer's scene.

Everything here imports MRML classes by name (``from slicer import vtkMRML...``), which
works both inside Slicer and on the ``slicer-core`` wheel, and never Qt, ``slicer.app`` or
``slicer.util`` functions that need the application. Geometry crosses the boundary exactly:
the engine works in LPS (ITK/DICOM), the scene in RAS.
"""

ATTRIBUTE_PREFIX = "WeakSeg."
"""Every node attribute and segment tag WeakSeg writes starts with this prefix."""

ROLE_ATTRIBUTE = ATTRIBUTE_PREFIX + "Role"
"""Node attribute / segment tag that says what a node or segment is for (never rely on order)."""
