"""Small synthetic cases and a seconds-long training recipe for the modules' self-tests and demos.

Used by each module's ``ScriptedLoadableModuleTest`` inside Slicer and by the pytest suite,
so both run the same real flow: synthetic case → (tiny) training → Segment → export.
"""

from __future__ import annotations

from pathlib import Path

TINY_MIXED_OPTIONS = {"base": 4, "depth": 2, "optimizer": "adamw", "branch_widths": [8, 8], "branch_conv": 4,
                      "branch_fc6": 4, "k": 1, "m": 1, "n": 1}
"""A very small network for paper 001's method: trains a few iterations in seconds on a CPU."""

TINY_RUN = {"iterations": 3, "device": "cpu", "amp": False, "threads": 1, "checkpoint_every": 3, "log_every": 1}


def write_demo_cases(root: str | Path, seeds=(1, 2), size: str = "tiny") -> list[Path]:
    """Synthetic tumour cases (BraTS 2018 naming, with ground truth) under ``root``."""
    from weakseg.phantom import PhantomConfig, make_tumour_case, write_case

    folders = []
    for seed in seeds:
        config = PhantomConfig.preset(size, seed=seed)
        folders.append(write_case(make_tumour_case(config), Path(root) / config.identifier))
    return folders


def load_demo_case(scene, root: str | Path, seed: int = 1) -> dict:
    """Write one synthetic phantom case under ``root`` and add its four sequences as volumes.

    The "create demo case" sample data of the panels: no download, no patient data, named
    so that auto-assign recognises every sequence. Returns sequence → volume node.
    """
    from weakseg.io.case import load_case
    from weakseg_mrml.volumes import add_volume_from_image

    folder = write_demo_cases(root, seeds=(seed,))[0]
    case = load_case(folder)
    suffix = {"t1c": "t1ce"}  # BraTS file naming, which auto-assign reads
    return {name: add_volume_from_image(scene, image, f"WeakSegDemo_{suffix.get(name, name)}")
            for name, image in case.images.items()}
