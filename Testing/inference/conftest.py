"""Tiny synthetic cases and an untrained tiny model: enough to check geometry, files and control flow."""

from __future__ import annotations

import pytest
import torch

from weakseg.io import load_case
from weakseg.methods.mixed import MixedConfig, MixedMethod
from weakseg.models import save_model
from weakseg.phantom import PhantomConfig, make_tumour_case, write_case

TINY_NET = dict(base=4, depth=2, branch_conv=4, branch_widths=(8, 8), branch_fc6=8)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def phantom_folder(tmp_path_factory):
    phantom = make_tumour_case(PhantomConfig.preset("tiny", seed=3))
    return write_case(phantom, tmp_path_factory.mktemp("phantom") / phantom.case_id)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A model folder with random weights (seeded) and a complete card, as training would write it."""
    torch.manual_seed(0)
    method = MixedMethod(MixedConfig(**TINY_NET))
    network = method.build_network()
    card = method.model_card("tiny-test", {"protocol": "untrained, for tests"}, {}, "", "tiny test model")
    return save_model(network, card, tmp_path_factory.mktemp("models") / "tiny-test")


@pytest.fixture()
def phantom_case(phantom_folder):
    return load_case(phantom_folder)
