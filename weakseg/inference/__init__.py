"""Inference engine shared by every method.

``segment_case(case, load_model('default'), InferenceConfig())`` gives a
``SegmentationResult`` on the case's grid; ``write_outputs(result, out_dir, case)``
writes the labelmap NIfTI, ``.seg.nrrd``, per-slice CSV, PNG montage and provenance.
"""

from weakseg.inference.engine import (Cancelled, InferenceConfig, auto_batch_size, gaussian_weight, patch_starts,
                                      predict_patches_3d, predict_slices, resolve_device)
from weakseg.inference.outputs import seg_nrrd_image, write_outputs, write_seg_nrrd
from weakseg.inference.segment import SegmentationResult, segment_case

__all__ = ["Cancelled", "InferenceConfig", "SegmentationResult", "auto_batch_size", "gaussian_weight", "patch_starts",
           "predict_patches_3d", "predict_slices", "resolve_device", "seg_nrrd_image", "segment_case", "write_outputs",
           "write_seg_nrrd"]
