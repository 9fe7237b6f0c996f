"""SE-specific tests of ``mmresfam.SEResNet`` and ``mmresfam.SEResNeXt``.

Shapes, gradients, train/eval, frozen stages, norm_eval, with_cp, drop path, dilation, compile
and mmpretrain parity of both are tested together with ResNeXt in ``test_resnext.py``.
"""
import pytest
import torch

from mmresfam.models.attentions import SE
from mmresfam.models.backbones.resnext import ResNeXtBottleneck
from mmresfam.models.backbones.seresnet import (SEBlockMixin, SEBottleneck, SEResNet,
                                                SEResNeXt, SEResNeXtBottleneck)
from mmresfam.registry import MODELS


def _params(module):
    return sum(p.numel() for p in module.parameters())


def test_registered():
    assert MODELS.get('mmresfam.SEResNet') is SEResNet
    assert MODELS.get('mmresfam.SEResNeXt') is SEResNeXt


@pytest.mark.parametrize('cls, expected, timm_name', [
    (SEResNet, 26.04e6, 'seresnet50'),
    (SEResNeXt, 25.51e6, 'seresnext50_32x4d'),
])
def test_depth50_param_counts(cls, expected, timm_name):
    import timm
    net = cls(depth=50)
    assert abs(_params(net) - expected) / expected < 0.005    # backbone, no head
    ref = timm.create_model(timm_name, pretrained=False)
    assert _params(net) == _params(ref) - _params(ref.fc)     # same structure as timm


def test_blocks_combine_without_copying():
    se_rx = SEResNeXt(depth=50).layer1[0]
    assert type(se_rx) is SEResNeXtBottleneck
    assert isinstance(se_rx, SEBlockMixin) and isinstance(se_rx, ResNeXtBottleneck)
    assert se_rx.mid_channels == 128 and se_rx.conv2.groups == 32
    se_r = SEResNet(depth=50).layer1[0]
    assert type(se_r) is SEBottleneck and not isinstance(se_r, ResNeXtBottleneck)
    assert se_r.mid_channels == 64 and se_r.conv2.groups == 1
    # nothing but __init__ of the mixin: forward/residual are the inherited ones
    assert 'residual' not in vars(SEBlockMixin) and 'forward' not in vars(SEBlockMixin)


@pytest.mark.parametrize('cls', [SEResNet, SEResNeXt])
def test_se_layer_keys_and_widths(cls):
    net = cls(depth=50, se_ratio=16)
    for i, channels in enumerate([256, 512, 1024, 2048]):
        block = getattr(net, f'layer{i + 1}')[-1]
        assert isinstance(block.se_layer, SE)
        assert block.se_layer.in_channels == channels
        assert block.se_layer.squeeze_channels == channels // 16
    keys = [k for k in net.state_dict() if k.startswith('layer1.0.se_layer.')]
    assert sorted(keys) == ['layer1.0.se_layer.conv1.conv.bias',
                            'layer1.0.se_layer.conv1.conv.weight',
                            'layer1.0.se_layer.conv2.conv.bias',
                            'layer1.0.se_layer.conv2.conv.weight']
    assert cls(depth=26, se_ratio=4, base_channels=16).layer1[0].se_layer.squeeze_channels == 16


@pytest.mark.parametrize('cls, kwargs', [
    (SEResNet, dict()), (SEResNeXt, dict(groups=4, width_per_group=4))])
def test_se_runs_after_bn3_before_the_addition(cls, kwargs):
    torch.manual_seed(0)
    net = cls(depth=26, base_channels=16, stem_channels=16, zero_init_residual=False, **kwargs)
    net.eval()
    block = net.layer2[0]
    x = torch.randn(2, block.in_channels, 8, 8)
    with torch.no_grad():
        out = block.relu(block.norm1(block.conv1(x)))
        out = block.relu(block.norm2(block.conv2(out)))
        plain = block.norm3(block.conv3(out))
        expected = torch.relu(block.se_layer(plain) + block.downsample(x))
        torch.testing.assert_close(block(x), expected)
        assert not torch.allclose(block(x), torch.relu(plain + block.downsample(x)))


def test_se_before_user_plugins_at_after_conv3():
    net = SEResNet(depth=26, base_channels=16, stem_channels=16,
                   plugins=[dict(cfg=dict(type='mmresfam.SE', reduction=2),
                                 position='after_conv3')])
    block = net.layer1[0]
    assert block.plugin_names['after_conv3'] == ['se_layer', 'se']
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32))[0].shape == (1, 512, 1, 1)


def test_drop_path_is_honoured_unlike_mmpretrain():
    """mmpretrain's SE bottleneck ignores drop_path_rate; ours drops the whole SE branch."""
    from mmpretrain.models.backbones import SEResNet as MMPretrainSEResNet
    kwargs = dict(depth=50, base_channels=16, stem_channels=16, drop_path_rate=1.0)
    ours, theirs = SEResNet(**kwargs), MMPretrainSEResNet(**kwargs)
    ours.load_state_dict(theirs.state_dict())
    ours.train()
    theirs.train()
    x = torch.randn(2, ours.layer4[-1].in_channels, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(ours.layer4[-1](x), torch.relu(x))
        assert not torch.allclose(theirs.layer4[-1](x), torch.relu(x))


@pytest.mark.parametrize('cls, kwargs, match', [
    (SEResNet, dict(depth=18), r'SEResNet: invalid depth=18; allowed depths are '
                               r'\[26, 50, 101, 152\]'),
    (SEResNeXt, dict(depth=34), r'SEResNeXt: invalid depth=34; allowed depths are'),
    (SEResNet, dict(depth=50, se_ratio=0), 'se_ratio must be an integer >= 1'),
    (SEResNet, dict(depth=50, base_channels=4, se_ratio=32),
     r'reduction must be an integer in \[1, 16\], got 32'),
    (SEResNeXt, dict(depth=50, groups=0), 'groups must be an integer >= 1'),
    (SEResNeXt, dict(depth=50, width_per_group=-1), 'width_per_group must be an integer'),
])
def test_bad_arguments(cls, kwargs, match):
    error = KeyError if 'depth' in match else ValueError
    with pytest.raises(error, match=match):
        cls(**kwargs)
