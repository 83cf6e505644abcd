"""Synthetic cases, deterministic from a seed: tumour brains (with infiltration and
physiological maps for paper 000), heads with organs at risk, and a realistic variant
on nilearn's MNI152 template. Used by tests, the demo and benchmarks.
"""

from weakseg.phantom.config import SIZES, PhantomCase, PhantomConfig
from weakseg.phantom.tumour_case import make_tumour_case
from weakseg.phantom.writer import case_files, write_case, write_case_files

__all__ = ["SIZES", "PhantomCase", "PhantomConfig", "make_tumour_case", "make_head_case", "write_case",
           "write_case_files", "case_files"]


def make_head_case(config: PhantomConfig | None = None) -> PhantomCase:
    """A head with organs at risk (see ``weakseg.phantom.head_oar``)."""
    from weakseg.phantom.head_oar import make_head_case as _make

    return _make(config)
