"""The 2D-3D method's networks: shapes, the valid 3D U-Net's alignment and tiling, modality-specific subnetworks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from weakseg.errors import WeakSegError
from weakseg.models.card import ModelCard, brats_labels
from weakseg.models.registry import load_model, save_model
from weakseg.nn import build_network, networks
from weakseg.nn.cascade2d3d import Cascade2D3D, Cascade2D3DConfig
from weakseg.nn.multiseq2d import MultiSeq2D, MultiSeq2DConfig
from weakseg.nn.unet3d_valid import ValidUNet3D, ValidUNet3DConfig, valid_output_size_3d

TINY_2D = {"sub_width": 2, "base": 4, "depth": 2}
TINY_3D = {"widths": [2, 3, 4]}


def test_networks_are_registered():
    assert {"multiseq2d", "unet3d-valid", "cascade2d3d"} <= set(networks())
    net = build_network("unet3d-valid", {"in_channels": 16, "n_classes": 4, "widths": [2, 2, 2]})
    assert isinstance(net, ValidUNet3D) and net.enc0[0].in_channels == 16


def test_valid_3d_maps_70_to_30_and_refuses_misaligned_inputs():
    net = ValidUNet3D(ValidUNet3DConfig(16, 4, (2, 2, 2)))
    assert net(torch.zeros(2, 16, 70, 70, 70)).shape == (2, 4, 30, 30, 30)
    assert valid_output_size_3d(70) == 30 and valid_output_size_3d(110) == 70
    for bad in (46, 68, 69, 72):  # too small, or a pooling input would be odd
        with pytest.raises(WeakSegError, match="≡ 2"):
            valid_output_size_3d(bad)
    assert net(torch.zeros(1, 16, 70, 54, 74)).shape == (1, 4, 30, 14, 34)  # each side on its own
    with pytest.raises(WeakSegError, match="≡ 2"):
        net(torch.zeros(1, 16, 70, 70, 72))


def _support(net, x, j):
    """Input voxels (per axis, as [min, max]) that output voxel (j, j, j) depends on."""
    x = x.clone().requires_grad_(True)
    net(x)[0, 0, j, j, j].backward()
    where = x.grad[0].abs().sum(0).nonzero()
    return where.min(0).values.tolist(), where.max(0).values.tolist()


@pytest.mark.parametrize("j", [0, 5, 13, 29])
def test_output_voxel_j_is_input_voxel_20_plus_j(j):
    """The full-resolution path (skip from the first conv to the last decoder convs) is centred on 20 + j;
    the whole receptive field stays inside the 70³ window."""
    torch.manual_seed(0)
    net = ValidUNet3D(ValidUNet3DConfig(2, 4, (3, 3, 3))).double()
    x = torch.randn(1, 2, 70, 70, 70, dtype=torch.double)
    low, high = _support(net, x, j)
    assert min(low) >= 0 and max(high) <= 69
    with torch.no_grad():  # silence the deep path: the first decoder conv reads only the skip's channels
        net.dec0[0][0].weight[:, 3:] = 0
    low, high = _support(net, x, j)
    assert low == [j + 16] * 3 and high == [j + 24] * 3  # 1 (first conv) + 3 (decoder convs) either side of 20 + j


def test_tiled_prediction_does_not_depend_on_the_tile():
    """Tiles start at multiples of the stride, so 70³ tiles, larger fitted windows and one forward pass agree."""
    torch.manual_seed(1)
    net = ValidUNet3D(ValidUNet3DConfig(3, 4, (2, 3, 4))).double().eval()
    volume = torch.randn(3, 37, 45, 33, dtype=torch.double)
    small, large = net.predict_volume(volume, 70), net.predict_volume(volume, 110, batch_size=2)
    assert small.shape == (4, 37, 45, 33)
    assert torch.allclose(small, large, atol=1e-10)
    assert torch.allclose(small, net.predict_volume(volume, 54), atol=1e-10)  # 14³ outputs, many tiles
    cube = volume[:, :30, :30, :30]
    whole = net(F.pad(cube, (20, 20) * 3)[None])[0]
    assert torch.allclose(net.predict_volume(cube, 70), whole, atol=1e-10)


def test_late_features_join_the_last_decoder_stage_and_group_norm_option():
    """Model B: the trailing channels skip the encoder, so they reach only the last stage (a 7-voxel window)."""
    torch.manual_seed(2)
    grouped = ValidUNet3D(ValidUNet3DConfig(6, 4, (2, 2, 2), norm="group", late_channels=2))
    assert any(isinstance(m, torch.nn.GroupNorm) for m in grouped.modules())
    net = ValidUNet3D(ValidUNet3DConfig(6, 4, (2, 2, 2), late_channels=2)).double()
    assert net.enc0[0].in_channels == 4
    x = torch.randn(1, 6, 70, 70, 70, dtype=torch.double, requires_grad=True)
    net(x)[0, 1, 10, 10, 10].backward()
    late = x.grad[0, 4:].abs().sum(0).nonzero()
    assert late.min(0).values.tolist() == [27] * 3 and late.max(0).values.tolist() == [33] * 3


@pytest.mark.parametrize("subnet", ["unet", "conv3"])
def test_multiseq_2d_has_one_subnetwork_per_sequence_plus_one_and_aux_heads_in_training(subnet):
    torch.manual_seed(3)
    net = MultiSeq2D(MultiSeq2DConfig(in_channels=3, n_classes=4, subnet=subnet, **TINY_2D))
    assert len(net.subs) == 4 and net.main.enc[0][0][0].in_channels == 4 * 2
    x = torch.randn(5, 3, 16, 24)
    seg, aux = net.train()(x)
    assert seg.shape == (5, 4, 16, 24) and len(aux) == 4 and all(a.shape == (5, 4, 16, 24) for a in aux)
    seg, aux = net.eval()(x)
    assert aux == []  # inference: the main head only
    with pytest.raises(WeakSegError, match="multiple of 4"):
        net(torch.randn(1, 3, 18, 24))


def test_each_single_sequence_subnetwork_sees_only_its_sequence():
    torch.manual_seed(4)
    net = MultiSeq2D(MultiSeq2DConfig(in_channels=3, **TINY_2D)).eval()
    x = torch.randn(2, 3, 16, 16)
    changed = x.clone()
    changed[:, 2] += 5.0
    with torch.no_grad():
        for k in range(2):
            assert torch.equal(net.subnetwork(k, x[:, k:k + 1]), net.subnetwork(k, changed[:, k:k + 1]))
        assert not torch.equal(net.subnetwork(3, x), net.subnetwork(3, changed))  # the all-sequence one does
        assert not torch.equal(net(x)[0], net(changed)[0])


def _cascade(orientations=("axial", "coronal", "sagittal"), **changes) -> Cascade2D3D:
    torch.manual_seed(5)
    return Cascade2D3D(Cascade2D3DConfig(2, orientations, TINY_2D, TINY_3D, tile=58, **changes)).eval()


def test_cascade_features_are_each_orientations_main_logits():
    net = _cascade()
    stack = torch.randn(2, 9, 11, 13)
    features = net.features(stack)
    assert features.shape == (12, 9, 11, 13)
    coronal = net.nets2d["coronal"]  # slices along y: (C, z, x) planes
    planes = F.pad(stack.permute(2, 0, 1, 3), (1, 2, 1, 2))  # pad z 9 → 12 and x 13 → 16 (centred as the engine pads)
    with torch.no_grad():
        expected = coronal(planes)[0][..., 1:10, 1:14].permute(1, 2, 0, 3)
    assert torch.allclose(features[4:8], expected, atol=1e-5)
    assert net.inputs(stack).shape == (2 + 12, 9, 11, 13)


def test_cascade_on_a_zero_padded_volume_equals_the_cropped_one_with_background_outside():
    net = _cascade(("axial",))
    stack = torch.randn(2, 9, 11, 13)
    stack[:, :, 0, 0] = 0.0  # some zeros inside are fine; the crop is the non-zero extent
    padded = torch.zeros(1, 2, 20, 24, 22)
    padded[0, :, 3:12, 5:16, 2:15] = stack
    with torch.no_grad():
        out = net(padded)[0]
        direct = net.predict_stack(stack)
    assert torch.allclose(out[:, 3:12, 5:16, 2:15], direct, atol=1e-5)
    assert (out[:, :3].argmax(0) == 0).all() and (out[:, 12:].argmax(0) == 0).all()
    assert net.net3d.enc0[0].in_channels == 2 + 4


def test_standard_3d_cascade_has_no_2d_part_and_round_trips_through_the_registry(tmp_path):
    net = _cascade((), inplane_downsample=2)
    assert len(net.nets2d) == 0 and net.net3d.enc0[0].in_channels == 2
    card = ModelCard("tiny-3d", "tumour-3d", {"name": "cascade2d3d", "config": net.config.to_dict()}, ["t1c", "flair"],
                     brats_labels(), inference={"mode": "patches3d"})
    loaded = load_model(save_model(net, card, tmp_path / "m")).network
    volume = torch.randn(1, 2, 10, 12, 14)
    with torch.no_grad():
        assert torch.allclose(loaded(volume), net(volume))
    assert loaded(volume).shape == (1, 4, 10, 12, 14)
    with pytest.raises(WeakSegError, match="distinct names"):
        Cascade2D3DConfig(orientations=("axial", "oblique"))


def test_triplanar_2d_is_the_mean_of_each_orientations_probabilities_and_mirrors_for_tta():
    from weakseg.methods.tumour_2d3d.evaluate import triplanar_probabilities

    net = _cascade().eval()
    stack = torch.randn(2, 9, 11, 13)
    features = net.features(stack)
    expected = torch.stack([features[i:i + 4].softmax(0) for i in (0, 4, 8)]).mean(0)
    probs = triplanar_probabilities(net, stack.numpy(), regions=False)
    assert probs.shape == (4, 9, 11, 13) and np.allclose(probs, expected.numpy(), atol=1e-5)
    assert np.allclose(probs.sum(0), 1, atol=1e-5)
    mirrored = triplanar_probabilities(net, stack.flip(-1).numpy(), regions=False)[..., ::-1]
    assert np.allclose(triplanar_probabilities(net, stack.numpy(), regions=False, tta=True),
                       0.5 * (probs + mirrored), atol=1e-5)
    standard_3d = _cascade(orientations=())
    with pytest.raises(ValueError, match="no 2D networks"):
        triplanar_probabilities(standard_3d, stack.numpy(), regions=False)
