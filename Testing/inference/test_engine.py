"""Inference engine: patch blending, TTA symmetry, cancellation, device policy, valid padding."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from weakseg.errors import WeakSegError
from weakseg.inference import Cancelled, InferenceConfig, predict_patches_3d, predict_slices, resolve_device
from weakseg.inference.engine import gaussian_weight, patch_starts
from weakseg.nn import UNet2D, UNet2DConfig


class PointwiseNet3D(nn.Module):
    """A translation-equivariant 3D net (1×1×1 convs): patch-wise and whole-volume outputs must agree."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.net = nn.Sequential(nn.Conv3d(2, 6, 1), nn.ReLU(), nn.Conv3d(6, 3, 1))

    def forward(self, x):
        return self.net(x)


def test_gaussian_patches_equal_whole_volume_prediction():
    rng = np.random.default_rng(0)
    stack = rng.normal(size=(2, 21, 26, 30)).astype(np.float32)
    net = PointwiseNet3D().eval()
    with torch.no_grad():
        whole = torch.softmax(net(torch.from_numpy(stack)[None]), 1)[0].numpy()
    patched = predict_patches_3d(net, stack, InferenceConfig(device="cpu", patch_size=(8, 12, 16), overlap=0.5, batch_size=3))
    assert patched.shape == whole.shape
    np.testing.assert_allclose(patched, whole, atol=1e-5)


def test_patch_grid_covers_volume_and_weights_favour_centre():
    assert patch_starts(30, 16, 0.5) == [0, 8, 14]
    assert patch_starts(10, 16, 0.5) == [0]
    w = gaussian_weight((9, 9, 9))
    assert w[4, 4, 4] == w.max() and w[0, 0, 0] < 0.01 and w.min() > 0


def test_volume_smaller_than_patch_is_padded_and_cropped_back():
    stack = np.random.default_rng(1).normal(size=(2, 5, 7, 9)).astype(np.float32)
    net = PointwiseNet3D().eval()
    out = predict_patches_3d(net, stack, InferenceConfig(device="cpu", patch_size=(8, 8, 8)))
    with torch.no_grad():
        whole = torch.softmax(net(torch.from_numpy(stack)[None]), 1)[0].numpy()
    np.testing.assert_allclose(out, whole, atol=1e-5)


def _tiny_unet(**kw) -> UNet2D:
    torch.manual_seed(0)
    return UNet2D(UNet2DConfig(**{**dict(in_channels=2, n_classes=3, base=4, depth=2, branches=2, branch_conv=4,
                                        branch_widths=(8, 8), branch_fc6=8), **kw})).eval()


def test_slice_prediction_keeps_shape_and_sums_to_one():
    stack = np.random.default_rng(2).normal(size=(2, 7, 18, 23)).astype(np.float32)
    probs, present = predict_slices(_tiny_unet(), stack, InferenceConfig(device="cpu", batch_size=3))
    assert probs.shape == (3, 7, 18, 23) and present.shape == (2, 7)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)


def test_flip_tta_is_mirror_symmetric():
    """With TTA, predicting the mirrored input gives exactly the mirrored prediction."""
    stack = np.random.default_rng(3).normal(size=(2, 4, 16, 20)).astype(np.float32)
    net = _tiny_unet()
    config = InferenceConfig(device="cpu", tta=True, batch_size=4)
    probs, _ = predict_slices(net, stack, config)
    mirrored, _ = predict_slices(net, np.ascontiguousarray(stack[..., ::-1]), config)
    np.testing.assert_allclose(mirrored[..., ::-1], probs, atol=1e-5)
    plain, _ = predict_slices(net, stack, InferenceConfig(device="cpu", batch_size=4))
    assert not np.allclose(plain, probs, atol=1e-4)  # the random net is not symmetric by itself


def test_valid_padding_network_predicts_every_pixel():
    from weakseg.nn.unet2d import valid_output_size

    assert valid_output_size(300) == 101 and valid_output_size(444) == 245  # paper 001's train/test sizes
    net = _tiny_unet(same_padding=False)
    stack = np.random.default_rng(4).normal(size=(2, 3, 20, 25)).astype(np.float32)
    probs, _ = predict_slices(net, stack, InferenceConfig(device="cpu"))
    assert probs.shape == (3, 3, 20, 25)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)


class CountingNet(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.config, self.calls = inner, inner.config, 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.inner(*args, **kwargs)


def test_cancel_stops_between_batches():
    net = CountingNet(_tiny_unet())
    cancel = threading.Event()
    events = []

    def progress(event):
        events.append(event)
        if event.get("done") == 1:
            cancel.set()

    stack = np.zeros((2, 10, 16, 16), np.float32)
    with pytest.raises(Cancelled):
        predict_slices(net, stack, InferenceConfig(device="cpu", batch_size=2), progress=progress, cancel=cancel)
    assert net.calls == 1
    assert [e["done"] for e in events if e["stage"] == "predict"] == [0, 1]


def test_device_policy():
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected  # auto never picks MPS
    if not (torch.backends.mps.is_available()):
        with pytest.raises(WeakSegError, match="mps"):
            resolve_device("mps")
    with pytest.raises(WeakSegError):
        InferenceConfig(device="tpu")


def test_small_components_are_dropped_relative_to_the_largest():
    from weakseg.inference.engine import drop_small_components

    classes = np.zeros((10, 20, 20), np.uint8)
    classes[2:8, 2:12, 2:12] = 2  # lesion: 600 voxels
    classes[4:6, 5:7, 5:7] = 3  # enhancing part inside it
    classes[0, 18, 18] = 1  # 1-voxel island
    classes[7:9, 16:19, 16:19] = 2  # 18-voxel island
    out = drop_small_components(classes, 0.02)
    assert out[0, 18, 18] == 0 and (out[7:9, 16:19, 16:19] == 2).all()
    np.testing.assert_array_equal(out[:, :14, :14], classes[:, :14, :14])
    assert drop_small_components(classes, 0.05)[7:9, 16:19, 16:19].max() == 0
    np.testing.assert_array_equal(drop_small_components(classes, 0), classes)
