"""Tests of ``mmresfam.ResNeXt`` and of the behaviour shared by ResNeXt, SE-ResNet and
SE-ResNeXt (shapes, gradients, train/eval, frozen stages, norm_eval, with_cp, drop path,
dilation, torch.compile). SE-specific tests are in ``test_seresnet.py``."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmresfam.models.backbones import Bottleneck
from mmresfam.models.backbones.resnext import ResNeXt, ResNeXtBottleneck
from mmresfam.models.backbones.seresnet import SEResNet, SEResNeXt
from mmresfam.registry import MODELS
from test_models._helpers import (assert_full_drop_path_keeps_shortcut,
                                  assert_grads_reach_every_parameter, assert_one_graph)

# tiny members of each family: depth 26, 16 base channels, 4 groups x 4 channels
SMALL = {
    ResNeXt: dict(depth=26, base_channels=16, stem_channels=16, groups=4, width_per_group=4),
    SEResNet: dict(depth=26, base_channels=16, stem_channels=16),
    SEResNeXt: dict(depth=26, base_channels=16, stem_channels=16, groups=4,
                    width_per_group=4),
}
FAMILY = list(SMALL)
CHANNELS = [64, 128, 256, 512]


def _params(module):
    return sum(p.numel() for p in module.parameters())


def _randomise_bn(net):
    for m in net.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def test_registered():
    assert MODELS.get('mmresfam.ResNeXt') is ResNeXt
    net = MODELS.build(dict(type='mmresfam.ResNeXt', depth=50))
    assert isinstance(net, ResNeXt)


def test_resnext50_32x4d_param_count():
    net = ResNeXt(depth=50)
    assert abs(_params(net) - 22.98e6) / 22.98e6 < 0.005      # backbone, no head
    assert net.out_channels == [256, 512, 1024, 2048]


def test_resnext50_matches_timm_structure():
    import timm
    ref = timm.create_model('resnext50_32x4d', pretrained=False)
    assert _params(ResNeXt(depth=50)) == _params(ref) - _params(ref.fc)


@pytest.mark.parametrize('groups, width, mids', [
    (32, 4, [128, 256, 512, 1024]),             # 32x4d
    (32, 8, [256, 512, 1024, 2048]),            # 32x8d
    (64, 4, [256, 512, 1024, 2048]),            # 64x4d
    (1, 4, [64, 128, 256, 512]),                # groups=1: plain ResNet widths (mmpretrain)
])
def test_width_rule(groups, width, mids):
    net = ResNeXt(depth=50, groups=groups, width_per_group=width)
    for i, mid in enumerate(mids):
        block = getattr(net, f'layer{i + 1}')[0]
        assert isinstance(block, ResNeXtBottleneck) and isinstance(block, Bottleneck)
        assert block.mid_channels == mid
        assert block.conv2.groups == groups
        assert block.conv2.weight.shape == (mid, mid // groups, 3, 3)
        assert block.bn1.num_features == block.bn2.num_features == mid
        assert block.conv3.weight.shape == (block.out_channels, mid, 1, 1)


@pytest.mark.parametrize('cls', FAMILY)
def test_mmpretrain_state_dict_loads_strict_and_matches(cls):
    import mmpretrain.models.backbones as mmpretrain_backbones
    torch.manual_seed(0)
    kwargs = dict(SMALL[cls], depth=50, out_indices=(0, 1, 2, 3))
    ref = getattr(mmpretrain_backbones, cls.__name__)(**kwargs)
    _randomise_bn(ref)
    ours = cls(**kwargs)
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.eval()
    ours.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), ref(x)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('cls', FAMILY)
def test_shapes_every_out_index(cls):
    net = cls(out_indices=(0, 1, 2, 3), **SMALL[cls])
    net.eval()
    assert net.out_channels == CHANNELS
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 48))
    assert [tuple(o.shape) for o in outs] == [
        (1, c, 16 // 2**i, -(-12 // 2**i)) for i, c in enumerate(CHANNELS)]
    single = cls(out_indices=(2, ), **SMALL[cls])
    single.eval()
    with torch.no_grad():
        out = single(torch.randn(1, 3, 64, 64))
    assert len(out) == 1 and out[0].shape == (1, 256, 4, 4)


@pytest.mark.parametrize('cls', FAMILY)
def test_gradients_reach_every_parameter(cls):
    torch.manual_seed(0)
    net = cls(out_indices=(0, 1, 2, 3), zero_init_residual=False, **SMALL[cls])
    net.init_weights()
    net.train()
    outs = net(torch.randn(2, 3, 32, 32))
    sum(o.square().mean() for o in outs).backward()
    assert_grads_reach_every_parameter(net)


@pytest.mark.parametrize('cls', FAMILY)
def test_train_eval_modes(cls):
    net = cls(**SMALL[cls])
    net.train()
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())


@pytest.mark.parametrize('cls', FAMILY)
def test_frozen_stages(cls):
    net = cls(frozen_stages=2, out_indices=(3, ), **SMALL[cls])
    net.train()
    frozen = [net.conv1, net.norm1, net.layer1, net.layer2]
    for module in frozen:
        assert all(not p.requires_grad for p in module.parameters())
        assert not any(m.training for m in module.modules() if isinstance(m, _BatchNorm))
    for module in (net.layer3, net.layer4):
        assert all(p.requires_grad for p in module.parameters())
        assert all(m.training for m in module.modules() if isinstance(m, _BatchNorm))
    before = net.layer1[0].bn1.running_mean.clone()
    net(torch.randn(2, 3, 32, 32))[0].sum().backward()
    torch.testing.assert_close(net.layer1[0].bn1.running_mean, before)   # stats not updated
    assert net.layer1[0].conv1.weight.grad is None
    assert net.layer3[0].conv1.weight.grad is not None


@pytest.mark.parametrize('cls', FAMILY)
def test_norm_eval(cls):
    net = cls(norm_eval=True, **SMALL[cls])
    net.train()
    bns = [m for m in net.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    assert all(p.requires_grad for p in net.parameters())      # only the statistics freeze


@pytest.mark.parametrize('cls', FAMILY)
def test_with_cp_same_outputs_and_grads(cls, monkeypatch):
    import mmresfam.models.backbones.resnet as resnet_module
    torch.manual_seed(0)
    ref = cls(zero_init_residual=False, **SMALL[cls])
    ckp = cls(with_cp=True, zero_init_residual=False, **SMALL[cls])
    ckp.load_state_dict(ref.state_dict())
    assert all(b.with_cp for layer in (ckp.layer1, ckp.layer4) for b in layer)
    calls = []
    real = resnet_module.cp.checkpoint
    monkeypatch.setattr(resnet_module.cp, 'checkpoint',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    ref.train()
    ckp.train()
    x = torch.randn(2, 3, 32, 32)
    out_ref, out_cp = ref(x)[0], ckp(x)[0]
    assert len(calls) == 8                                    # every block, 2 per stage
    torch.testing.assert_close(out_ref, out_cp)
    out_ref.sum().backward()
    out_cp.sum().backward()
    torch.testing.assert_close(ref.conv1.weight.grad, ckp.conv1.weight.grad)
    torch.testing.assert_close(ref.layer1[0].conv2.weight.grad, ckp.layer1[0].conv2.weight.grad)


@pytest.mark.parametrize('cls', FAMILY)
def test_drop_path_one_returns_activated_shortcut(cls):
    net = cls(drop_path_rate=1.0, **SMALL[cls])
    net.train()
    last = net.layer4[-1]                        # linspace(0, 1) puts rate 1.0 on the last block
    first = net.layer2[0]                        # has a downsample
    assert_full_drop_path_keeps_shortcut(last, first)
    net.eval()                                   # no drop path at test time
    x = torch.randn(2, last.in_channels, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(last(x), torch.relu(x))


@pytest.mark.parametrize('cls', FAMILY)
def test_dilated_output_stride_8(cls):
    net = cls(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(0, 1, 2, 3),
              **SMALL[cls])
    net.eval()
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[-2:]) for o in outs] == [(16, 16), (8, 8), (8, 8), (8, 8)]
    assert net.layer3[0].conv2.dilation == (2, 2) and net.layer4[1].conv2.dilation == (4, 4)
    assert net.layer4[1].conv2.padding == (4, 4)
    contracted = cls(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True,
                     **SMALL[cls])
    assert contracted.layer4[0].conv2.dilation == (2, 2)
    assert contracted.layer4[1].conv2.dilation == (4, 4)


@pytest.mark.parametrize('cls', FAMILY)
def test_plugins_use_resnext_widths(cls):
    net = cls(plugins=[dict(cfg=dict(type='mmresfam.SE', reduction=4),
                            stages=(False, True, False, False), position='after_conv2')],
              **SMALL[cls])
    block = net.layer2[0]
    plugin = getattr(block, block.plugin_names['after_conv2'][0])
    assert plugin.in_channels == block.mid_channels
    assert block.plugin_names['after_conv2'] and not net.layer1[0].plugin_names['after_conv2']
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32))[0].shape == (1, 512, 1, 1)


@pytest.mark.parametrize('cls', FAMILY)
def test_compiles_without_graph_breaks(cls):
    net = cls(out_indices=(0, 3), **SMALL[cls])
    net.eval()
    assert_one_graph(net, torch.randn(1, 3, 32, 32))


def test_zero_init_residual_and_pretrained_kwarg():
    net = ResNeXt(**SMALL[ResNeXt])
    net.init_weights()
    assert torch.all(net.layer1[0].bn3.weight == 0)
    with pytest.warns(DeprecationWarning):
        net = ResNeXt(pretrained='x.pth', **SMALL[ResNeXt])
    assert net.init_cfg == dict(type='Pretrained', checkpoint='x.pth')


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(depth=34), KeyError, r'ResNeXt: invalid depth=34; allowed depths are '
                               r'\[26, 50, 101, 152\]'),
    (dict(depth=50, groups=0), ValueError, 'groups must be an integer >= 1, got 0'),
    (dict(depth=50, width_per_group=0), ValueError, 'width_per_group must be an integer >= 1'),
    (dict(depth=50, strides=(1, 2, 2)), ValueError, 'strides has 3 entries'),
    (dict(depth=50, out_indices=(4, )), ValueError, 'out_indices'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ResNeXt(**kwargs)


def test_block_width_that_does_not_divide():
    # out_channels 192 -> 48 plain middle channels, not a multiple of base_channels=64
    with pytest.raises(ValueError, match=r'mid_channels \(out_channels // expansion\)=48 must '
                                         r'be divisible by base_channels=64'):
        ResNeXtBottleneck(64, 192, base_channels=64, groups=32, width_per_group=4)
