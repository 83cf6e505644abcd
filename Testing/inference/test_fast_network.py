"""segment_case runs slice models with batch norm folded and channels-last: same outputs, same labels."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import torch

from weakseg.inference import InferenceConfig, segment_case
from weakseg.inference.fast_network import InferenceNetwork
from weakseg.io import load_case
from weakseg.models import load_model


def test_the_folded_network_gives_the_trained_networks_outputs_and_labels(tiny_model_dir, phantom_folder, monkeypatch):
    model = load_model(tiny_model_dir)
    with torch.no_grad():
        for module in model.network.modules():  # non-trivial running statistics, so folding has work to do
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, model.network.config.in_channels, 64, 64)
    with torch.no_grad():
        seg, branches = model.network.eval()(x)
    fast_seg, fast_branches = InferenceNetwork(model.network)(x)
    assert torch.allclose(seg, fast_seg, atol=1e-4) and fast_seg.is_contiguous()
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(branches, fast_branches))
    case = load_case(phantom_folder)
    fast = segment_case(case, model, InferenceConfig(device="cpu"))
    import weakseg.inference.fast_network as fast_network

    monkeypatch.setattr(fast_network, "InferenceNetwork", lambda network, precision: network.eval())
    plain = segment_case(case, model, InferenceConfig(device="cpu"))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(fast.labels), sitk.GetArrayFromImage(plain.labels))
    assert np.abs(fast.probabilities.astype(np.float32) - plain.probabilities.astype(np.float32)).max() < 2e-3
