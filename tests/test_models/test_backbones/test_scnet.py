"""Tests of ``mmresfam.SCNet`` (SCNet-26/50/101 and the v1d variant)."""
import pytest
import torch
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from mmresfam.models.attentions import SCConv
from mmresfam.models.backbones.scnet import SCBottleneck, SCNet
from mmresfam.registry import MODELS
from test_models._helpers import (assert_full_drop_path_keeps_shortcut, assert_one_graph,
                                  randomise_bn)

SMALL = dict(depth=26, base_channels=16, stem_channels=16)


def _params(module):
    return sum(p.numel() for p in module.parameters())


def test_registered_in_our_scope():
    assert MODELS.get('mmresfam.SCNet') is SCNet
    assert MODELS.build(dict(type='mmresfam.SCNet', **SMALL)).__class__ is SCNet


@pytest.mark.parametrize('kwargs, expected', [
    (dict(depth=50), 25.56e6),                                   # paper Table: 25.56M
    (dict(depth=101), 44.57e6),                                  # paper: 44.57M
    (dict(depth=50, deep_stem=True, avg_down=True, avd=True), 25.58e6),   # official v1d
])
def test_param_counts_with_1000_class_head(kwargs, expected):
    total = _params(SCNet(**kwargs)) + 2048 * 1000 + 1000
    assert abs(total - expected) / expected < 0.005


def test_block_structure():
    net = SCNet(depth=50)
    block = net.layer2[0]
    assert isinstance(block, SCBottleneck) and isinstance(block.scconv, SCConv)
    assert block.conv1.out_channels == 128                   # both halves in one 1x1 conv
    assert block.conv2.in_channels == block.conv2.out_channels == 64     # k1 on half a
    assert block.scconv.in_channels == block.scconv.out_channels == 64   # SCConv on half b
    assert block.conv2.stride == (2, 2) and block.scconv.k4.conv.stride == (2, 2)
    assert block.conv3.in_channels == 128 and block.scconv.pooling_r == 4
    v1d = SCNet(depth=50, deep_stem=True, avg_down=True, avd=True)
    assert isinstance(v1d.layer2[0].downsample[0], torch.nn.AvgPool2d)
    assert len(v1d.stem) == 3
    # avd only in strided blocks: 3x3 convs at stride 1, then AvgPool2d(3, 2, padding=1)
    assert v1d.layer2[0].avd and v1d.layer2[0].conv2.stride == (1, 1)
    assert v1d.layer2[0].scconv.k4.conv.stride == (1, 1)
    assert not v1d.layer1[0].avd and not v1d.layer2[1].avd and v1d.layer2[1].avd_layer is None


def _bn(x, bn):
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0, bn.eps)


@pytest.mark.parametrize('avd', [False, True])
def test_bottleneck_matches_reference_two_branch_equations(avd):
    """The reference block: conv1_a/conv1_b (= our conv1 split), k1 on a, SCConv on b; with
    ``avd`` the 3x3 convs run at stride 1 and both branches are average-pooled (3, 2, pad 1)."""
    torch.manual_seed(0)
    block = SCBottleneck(32, 64, stride=2, avd=avd, downsample=torch.nn.Sequential(
        torch.nn.Conv2d(32, 64, 1, 2, bias=False), torch.nn.BatchNorm2d(64)))
    randomise_bn(block)
    block.eval()
    x = torch.randn(2, 32, 9, 9)
    half = block.mid_channels // 2
    both = F.relu(_bn(F.conv2d(x, block.conv1.weight), block.bn1))
    a, b = both[:, :half], both[:, half:]
    a = F.relu(_bn(F.conv2d(a, block.conv2.weight, None, 1 if avd else 2, 1), block.bn2))
    b = block.scconv(b)
    if avd:
        a, b = F.avg_pool2d(a, 3, 2, 1), F.avg_pool2d(b, 3, 2, 1)
    ref = _bn(F.conv2d(torch.cat([a, b], 1), block.conv3.weight), block.bn3)
    ref = F.relu(ref + block.downsample(x))
    with torch.no_grad():
        out = block(x)
    assert out.shape == (2, 64, 5, 5)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('kwargs', [SMALL, dict(SMALL, deep_stem=True, avg_down=True, avd=True)])
def test_shapes_every_out_index(kwargs):
    net = SCNet(out_indices=(0, 1, 2, 3), **kwargs)
    net.eval()
    assert net.out_channels == [64, 128, 256, 512]
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 70, 50))   # odd sizes inside: 18x13 -> 9x7 -> 5x4 -> 3x2
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 18, 13), (128, 9, 7), (256, 5, 4),
                                                  (512, 3, 2)]


def test_gradients_reach_every_parameter():
    net = SCNet(out_indices=(0, 1, 2, 3), **SMALL)
    net.init_weights()
    net.train()
    outs = net(torch.randn(2, 3, 32, 32))
    sum(o.mean() for o in outs).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing


def test_train_eval_frozen_stages_norm_eval():
    net = SCNet(frozen_stages=1, **SMALL)
    net.train()
    assert all(not p.requires_grad for p in net.layer1.parameters())
    assert all(not m.training for m in net.layer1.modules() if isinstance(m, _BatchNorm))
    assert not net.bn1.training and not net.conv1.weight.requires_grad
    assert net.layer2[0].scconv.k2.bn.training
    before = net.layer2[0].bn1.running_mean.clone()
    net(torch.randn(2, 3, 32, 32))[0].mean().backward()
    assert not torch.equal(before, net.layer2[0].bn1.running_mean)
    assert all(p.grad is None for p in net.layer1.parameters())
    assert net.layer2[0].scconv.k2.conv.weight.grad is not None
    net.eval()
    assert all(not m.training for m in net.modules())
    ne = SCNet(norm_eval=True, **SMALL)
    ne.train()
    assert all(not m.training for m in ne.modules() if isinstance(m, _BatchNorm))


def test_with_cp_same_outputs_and_grads():
    torch.manual_seed(0)
    ref = SCNet(**SMALL)
    cp = SCNet(with_cp=True, **SMALL)
    cp.load_state_dict(ref.state_dict())
    ref.train()
    cp.train()
    x = torch.randn(2, 3, 32, 32)
    out_ref, out_cp = ref(x)[0], cp(x)[0]
    torch.testing.assert_close(out_ref, out_cp)
    out_ref.sum().backward()
    out_cp.sum().backward()
    torch.testing.assert_close(ref.layer1[0].scconv.k2.conv.weight.grad,
                               cp.layer1[0].scconv.k2.conv.weight.grad)


def test_drop_path_one_returns_activated_shortcut():
    net = SCNet(drop_path_rate=1.0, **SMALL)
    net.train()
    last, first = net.layer4[-1], net.layer3[0]
    assert_full_drop_path_keeps_shortcut(last, first)


def test_dilated_output_stride_8():
    net = SCNet(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(3, ), **SMALL)
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64))[0].shape[-2:] == (8, 8)
    assert net.layer4[0].conv2.dilation == (4, 4)
    assert net.layer4[0].scconv.k3.conv.dilation == (4, 4)


def test_plugins():
    net = SCNet(plugins=[dict(cfg=dict(type='mmresfam.SK', reduction=4, min_channels=8),
                              stages=(False, False, True, True), position='after_conv2')],
                **SMALL)
    assert net.layer3[0].plugin_names['after_conv2'] == ['sk']
    assert net.layer3[0].sk.in_channels == net.layer3[0].mid_channels
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32))[0].shape == (1, 512, 1, 1)


def test_compiles_without_graph_breaks():
    net = SCNet(**SMALL)
    net.eval()
    assert_one_graph(net, torch.randn(1, 3, 32, 32))


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(depth=18), KeyError, r'invalid depth=18; allowed depths are \[26, 50, 101\]'),
    (dict(depth=50, pooling_r=0), ValueError, 'pooling_r must be an integer >= 1'),
    (dict(depth=50, style='tf'), ValueError, 'style'),
    (dict(depth=26, base_channels=1, stem_channels=8), ValueError, 'mid_channels=1 must be '
     'divisible by the number of halves=2'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SCNet(**kwargs)
