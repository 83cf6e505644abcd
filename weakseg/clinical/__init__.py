"""Clinical input: fitness checks against a model card's ``expects`` and the preprocessing that makes a
native-space, thick-slice, non-skull-stripped study fit (registration, 1 mm resampling, brain extraction,
optional N4), with labels brought back onto the study's own grid. See ``pipeline.py``."""

from weakseg.clinical.checks import Expects, Fitness, Problem, assess
from weakseg.clinical.pipeline import (MODES, ClinicalConfig, Prepared, describe, prepare, segment_checked,
                                      segment_prepared)

__all__ = ["Expects", "Fitness", "Problem", "assess", "MODES", "ClinicalConfig", "Prepared", "describe", "prepare",
           "segment_prepared", "segment_checked"]
