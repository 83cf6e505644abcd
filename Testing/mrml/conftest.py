"""Fixtures for the MRML suite: a real scene on the slicer-core wheel (see ``mrml_headless``).

Without the wheel the MRML tests are not collected (they import MRML classes at module
level); the static checks of the Slicer-side files still run.
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("slicer_core") is None:
    collect_ignore_glob = ["test_mrml_*.py"]
else:
    from mrml_headless import HeadlessSlicer

    @pytest.fixture(scope="session")
    def headless_slicer(tmp_path_factory) -> HeadlessSlicer:
        return HeadlessSlicer.shared(tmp_path_factory.mktemp("terminologies"))


    @pytest.fixture
    def mrml_scene(headless_slicer: HeadlessSlicer):
        """A real vtkMRMLScene, empty but for default colour tables; cleared again after the test."""
        headless_slicer.clear()
        yield headless_slicer.scene
        headless_slicer.clear()
