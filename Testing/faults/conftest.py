"""Fixtures of the fault-injection suite: a tiny phantom case, a tiny (untrained) model, a tiny dataset."""

from __future__ import annotations

import pytest
import torch

from weakseg.methods.mixed import MixedConfig, MixedMethod
from weakseg.models import save_model
from weakseg.phantom import PhantomConfig, make_tumour_case, write_case

TINY_NET = dict(base=4, depth=2, branch_conv=4, branch_widths=(8, 8), branch_fc6=8)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def case_dir(tmp_path_factory):
    phantom = make_tumour_case(PhantomConfig.preset("tiny", seed=5))
    return write_case(phantom, tmp_path_factory.mktemp("cases") / phantom.case_id)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    method = MixedMethod(MixedConfig(**TINY_NET))
    card = method.model_card("tiny-faults", {"protocol": "untrained, for tests"}, {}, "", "tiny test model")
    card.expects = {"spacing_mm": [5.0, 5.0, 5.0], "spacing_tolerance_mm": 1.0, "min_slices": 4}  # the tiny phantoms
    return save_model(method.build_network(), card, tmp_path_factory.mktemp("models") / "tiny-faults")
