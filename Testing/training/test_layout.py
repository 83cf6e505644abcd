"""Channels-last training weights: every convolution converted, outputs and gradients unchanged, weights saved plain.

Compared in float64: in float32 the two layouts sum in other orders, and batch norm's gradients (sums
with cancellation) then differ by up to ~1 % relative, which says nothing about the layout itself."""

from __future__ import annotations

import copy

import torch

from weakseg.nn.unet2d import UNet2D, UNet2DConfig
from weakseg.nn.unet3d_valid import ValidUNet3D, ValidUNet3DConfig
from weakseg.training.layout import channels_last_weights


def _convolutions(network):
    return [m for m in network.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]


def _same_training_step(network, x):
    torch.manual_seed(0)
    fast = channels_last_weights(copy.deepcopy(network))
    outputs, grads = [], []
    for net in (network, fast):
        out = net(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
        out.square().mean().backward()
        outputs.append(out.detach())
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None]))
    return fast, outputs, grads


def test_2d_unet_weights_become_channels_last_with_the_same_outputs_and_gradients():
    torch.manual_seed(1)
    network = UNet2D(UNet2DConfig(in_channels=4, n_classes=4, base=8, depth=3)).double()
    fast, outputs, grads = _same_training_step(network, torch.randn(3, 4, 48, 40, dtype=torch.float64))
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in _convolutions(fast))
    assert not any(c.weight.is_contiguous(memory_format=torch.channels_last) and not c.weight.is_contiguous()
                   for c in _convolutions(network))  # the original is untouched
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-10, rtol=1e-9)
    torch.testing.assert_close(grads[1], grads[0], atol=1e-10, rtol=1e-9)
    state = {k: v.contiguous() for k, v in fast.state_dict().items()}  # what save_model writes
    network.load_state_dict(state)


def test_3d_unet_weights_become_channels_last_3d_with_the_same_outputs():
    torch.manual_seed(2)
    network = ValidUNet3D(ValidUNet3DConfig(in_channels=2, n_classes=3, widths=(4, 8, 8))).double()
    fast, outputs, grads = _same_training_step(network, torch.randn(1, 2, 54, 54, 54, dtype=torch.float64))
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last_3d) for c in _convolutions(fast))
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-10, rtol=1e-9)
    torch.testing.assert_close(grads[1], grads[0], atol=1e-10, rtol=1e-9)
