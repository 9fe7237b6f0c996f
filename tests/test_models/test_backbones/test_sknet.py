"""Tests of ``mmresfam.SKNet`` (SK-ResNet-18/34, SKNet-50 = SK-ResNeXt-50 32x4d)."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmresfam.models.attentions import SK
from mmresfam.models.backbones.sknet import SKBasicBlock, SKBottleneck, SKNet
from mmresfam.registry import MODELS
from test_models._helpers import assert_full_drop_path_keeps_shortcut, assert_one_graph

TIMM18 = dict(reduction=8, min_channels=16, split_input=True)


def _params(module):
    return sum(p.numel() for p in module.parameters())


def _head_params(channels, classes=1000):
    return channels * classes + classes


def test_registered():
    assert MODELS.get('mmresfam.SKNet') is SKNet


def test_sknet50_defaults_are_the_paper_model():
    net = SKNet(depth=50)
    total = _params(net) + _head_params(2048)
    assert abs(total - 27.5e6) / 27.5e6 < 0.005          # paper: 27.5M with the 1000-way FC
    block = net.layer1[0]
    assert isinstance(block, SKBottleneck) and isinstance(block.conv2, SK)
    assert block.mid_channels == 128                     # 32 groups x 4 channels
    assert block.conv2.num_branches == 2 and block.conv2.branches[0].conv.groups == 32
    assert block.conv2.attn_channels == 32               # max(128 / 16, L=32)
    assert net.layer4[0].conv2.attn_channels == 64       # max(1024 / 16, 32)
    assert not hasattr(block, 'bn2')


def test_sknet101_param_count():
    total = _params(SKNet(depth=101)) + _head_params(2048)
    assert abs(total - 48.9e6) / 48.9e6 < 0.005          # paper: 48.9M


@pytest.mark.parametrize('depth, kwargs, timm_name', [
    (50, dict(), 'skresnext50_32x4d'),
    (18, TIMM18, 'skresnet18'),
    (34, TIMM18, 'skresnet34'),
    (50, dict(groups=1, width_per_group=64, split_input=True, min_channels=8), 'skresnet50'),
])
def test_param_counts_match_timm(depth, kwargs, timm_name):
    import timm
    ref = timm.create_model(timm_name, pretrained=False)
    ref_backbone = _params(ref) - _params(ref.fc)
    assert _params(SKNet(depth=depth, **kwargs)) == ref_backbone


def test_sk_resnet50_variant():
    net = SKNet(depth=50, groups=1, width_per_group=64)
    assert net.layer1[0].mid_channels == 64 and net.layer1[0].conv2.branches[0].conv.groups == 1
    assert net.layer1[0].conv1.out_channels == 64
    basic = SKNet(depth=18)
    assert isinstance(basic.layer1[0], SKBasicBlock) and isinstance(basic.layer1[0].conv1, SK)
    assert basic.layer2[0].conv1.branches[0].conv.stride == (2, 2)   # SK takes the stride
    assert not hasattr(basic.layer1[0], 'bn1')


@pytest.mark.parametrize('depth, kwargs, channels', [
    (18, TIMM18, [64, 128, 256, 512]),
    (50, dict(base_channels=16, stem_channels=16, reduction=4, min_channels=8),
     [64, 128, 256, 512]),
])
def test_shapes_every_out_index(depth, kwargs, channels):
    net = SKNet(depth=depth, out_indices=(0, 1, 2, 3), **kwargs)
    net.eval()
    assert net.out_channels == channels
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 48))
    assert [tuple(o.shape) for o in outs] == [
        (1, c, 16 // 2**i, -(-12 // 2**i)) for i, c in enumerate(channels)]


def test_gradients_reach_every_parameter():
    net = SKNet(depth=18, out_indices=(0, 1, 2, 3), **TIMM18)
    net.init_weights()
    net.train()
    outs = net(torch.randn(2, 3, 32, 32))
    sum(o.mean() for o in outs).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing


def test_train_eval_modes():
    net = SKNet(depth=18, **TIMM18)
    net.train()
    x = torch.randn(2, 3, 32, 32)
    before = net.bn1.running_mean.clone()
    net(x)
    assert not torch.equal(before, net.bn1.running_mean)       # train: BN stats update
    net.eval()
    assert all(not m.training for m in net.modules())
    with torch.no_grad():
        torch.testing.assert_close(net(x)[0], net(x)[0])


def test_frozen_stages():
    net = SKNet(depth=18, frozen_stages=2, **TIMM18)
    net.train()
    for name in ('conv1', 'bn1', 'layer1', 'layer2'):
        module = getattr(net, name)
        assert all(not p.requires_grad for p in module.parameters()), name
        assert all(not m.training for m in module.modules() if isinstance(m, _BatchNorm)), name
    assert all(p.requires_grad for p in net.layer3.parameters())
    assert net.layer3[0].conv1.attn_reduce.bn.training
    net(torch.randn(2, 3, 32, 32))[0].mean().backward()
    assert all(p.grad is None for p in net.layer2.parameters())
    assert all(p.grad is not None for p in net.layer3.parameters())


def test_norm_eval():
    net = SKNet(depth=18, norm_eval=True, **TIMM18)
    net.train()
    bns = [m for m in net.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    assert net.training


def test_with_cp_same_outputs_and_grads():
    torch.manual_seed(0)
    ref = SKNet(depth=18, **TIMM18)
    cp = SKNet(depth=18, with_cp=True, **TIMM18)
    cp.load_state_dict(ref.state_dict())
    assert all(b.with_cp for layer in (cp.layer1, cp.layer4) for b in layer)
    ref.train()
    cp.train()
    x = torch.randn(2, 3, 32, 32)
    out_ref, out_cp = ref(x)[0], cp(x)[0]
    torch.testing.assert_close(out_ref, out_cp)
    out_ref.sum().backward()
    out_cp.sum().backward()
    torch.testing.assert_close(ref.conv1.weight.grad, cp.conv1.weight.grad)
    torch.testing.assert_close(ref.layer1[0].conv1.attn_select.weight.grad,
                               cp.layer1[0].conv1.attn_select.weight.grad)


@pytest.mark.parametrize('depth, kwargs', [
    (18, TIMM18),
    (50, dict(base_channels=16, stem_channels=16, reduction=4, min_channels=8)),
])
def test_drop_path_one_returns_activated_shortcut(depth, kwargs):
    net = SKNet(depth=depth, drop_path_rate=1.0, **kwargs)
    net.train()
    last = net.layer4[-1]                        # linspace(0, 1) puts rate 1.0 on the last block
    first = net.layer2[0]                        # has a downsample
    assert_full_drop_path_keeps_shortcut(last, first)


def test_dilated_output_stride_8_and_contract_dilation():
    net = SKNet(depth=18, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(0, 1, 2, 3),
                contract_dilation=True, **TIMM18)
    net.eval()
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [16, 8, 8, 8]
    # contract_dilation: first block of layer4 uses dilation 2, SK branches 2 and 4
    assert [b.conv.dilation[0] for b in net.layer4[0].conv1.branches] == [2, 4]
    assert [b.conv.dilation[0] for b in net.layer4[1].conv1.branches] == [4, 8]


def test_plugins_and_zero_init_residual():
    net = SKNet(depth=50, base_channels=16, stem_channels=16, reduction=4, min_channels=8,
                plugins=[dict(cfg=dict(type='mmresfam.SCConv'), stages=(False, True, False,
                                                                      False),
                              position='after_conv2')])
    net.init_weights()
    assert net.layer2[0].plugin_names['after_conv2'] == ['scconv']
    assert 'scconv' not in net.layer1[0].plugin_names['after_conv2']
    assert torch.all(net.layer1[0].bn3.weight == 0)          # zero_init_residual
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32))[0].shape == (1, 512, 1, 1)


def test_compiles_without_graph_breaks():
    net = SKNet(depth=18, out_indices=(0, 3), **TIMM18)
    net.eval()
    assert_one_graph(net, torch.randn(1, 3, 32, 32))


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(depth=42), KeyError, r'invalid depth=42; allowed depths are \[18, 34, 50, 101, 152\]'),
    (dict(depth=18, groups=32), ValueError, r'groups must be an integer in \[1, 1\]'),
    (dict(depth=18, width_per_group=4), ValueError, 'width_per_group'),
    (dict(depth=50, num_branches=0), ValueError, 'num_branches must be an integer >= 1'),
    (dict(depth=50, groups=0), ValueError, 'groups must be an integer >= 1'),
    (dict(depth=50, out_indices=(4, )), ValueError, 'out_indices'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SKNet(**kwargs)
