"""Reading and writing images, cases and DICOM series."""

from weakseg.io.image import read_image, write_image, same_grid, resample_to
from weakseg.io.case import Case, load_case

__all__ = ["read_image", "write_image", "same_grid", "resample_to", "Case", "load_case"]
