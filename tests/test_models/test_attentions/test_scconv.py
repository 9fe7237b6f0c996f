"""Tests of the self-calibrated convolution ``mmresfam.SCConv``."""
import pytest
import torch
import torch.nn.functional as F

from mmresfam.models.attentions import SCConv
from mmresfam.registry import MODELS
from test_models._helpers import assert_grads_reach_every_parameter, randomise_bn


def _conv_bn(block, x):
    conv, bn = block.conv, block.bn
    y = F.conv2d(x, conv.weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
    return F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0, bn.eps)


def _reference(m, x):
    """MCG-NKU/SCNet's SCConv equations (floor-mode AvgPool(r), nearest upsampling)."""
    r = m.pooling_r
    k2 = _conv_bn(m.k2, F.avg_pool2d(x, r, r))
    gate = torch.sigmoid(x + F.interpolate(k2, size=x.shape[-2:]))
    return F.relu(_conv_bn(m.k4, _conv_bn(m.k3, x) * gate))


@pytest.mark.parametrize('size', [(8, 8), (9, 7), (13, 11), (4, 5)])
@pytest.mark.parametrize('kwargs', [dict(), dict(stride=2, out_channels=12, groups=4),
                                    dict(pooling_r=2, dilation=2)])
def test_scconv_matches_reference(size, kwargs):
    torch.manual_seed(0)
    m = MODELS.build(dict(type='mmresfam.SCConv', in_channels=8, **kwargs))
    randomise_bn(m)
    m.eval()
    x = torch.randn(2, 8, *size)
    with torch.no_grad():
        out = m(x)
        ref = _reference(m, x)
    s = kwargs.get('stride', 1)
    assert out.shape == (2, kwargs.get('out_channels', 8), -(-size[0] // s), -(-size[1] // s))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('size', [(1, 1), (3, 2), (5, 3)])
def test_scconv_maps_smaller_than_pooling_rate(size):
    """A map smaller than r is pooled globally along the short side; output keeps the size."""
    m = SCConv(4, pooling_r=4)
    m.eval()
    x = torch.randn(2, 4, *size)
    with torch.no_grad():
        out = m(x)
    assert out.shape == x.shape
    h, w = size
    kernel = (min(4, h), min(4, w))
    k2 = _conv_bn(m.k2, F.avg_pool2d(x, kernel, kernel))
    gate = torch.sigmoid(x + F.interpolate(k2, size=size))
    ref = F.relu(_conv_bn(m.k4, _conv_bn(m.k3, x) * gate))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_scconv_bilinear_and_record_attention():
    m = SCConv(4, upsample_mode='bilinear')
    m.eval()
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        m(x)
    assert m.last_attention_map is None             # nothing stored by default
    m.record_attention = True
    with torch.no_grad():
        m(x)
    gate = m.last_attention_map
    assert gate.shape == (2, 4, 9, 9) and not gate.requires_grad
    assert gate.min() > 0 and gate.max() < 1
    assert m._abbr_ == 'scconv'


def test_scconv_gradients():
    m = SCConv(8, 16, stride=2)
    m.train()
    x = torch.randn(2, 8, 8, 8, requires_grad=True)
    m(x).square().mean().backward()
    assert_grads_reach_every_parameter(m, x)


def test_scconv_as_mmdet_plugin():
    from mmdet.models.backbones import ResNet as MMDetResNet
    net = MMDetResNet(depth=50, out_indices=(2, ), base_channels=8,
                      plugins=[dict(cfg=dict(type='mmresfam.SCConv'),
                                    stages=(False, True, True, False), position='after_conv2')])
    net.eval()
    assert isinstance(net.layer2[0].scconv, SCConv)
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64))[0].shape == (1, 128, 4, 4)


def test_scconv_compiles_without_graph_breaks():
    m = SCConv(4)
    m.eval()
    explanation = torch._dynamo.explain(m)(torch.randn(2, 4, 9, 7))
    assert explanation.graph_break_count == 0


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=8, pooling_r=0), 'pooling_r must be an integer >= 1'),
    (dict(in_channels=8, groups=3), 'in_channels=8 must be divisible by groups=3'),
    (dict(in_channels=8, out_channels=6, groups=4), 'out_channels=6 must be divisible'),
    (dict(in_channels=8, upsample_mode='area'), 'upsample_mode'),
    (dict(in_channels=0), 'in_channels'),
    (dict(in_channels=8, stride=0), 'stride'),
])
def test_scconv_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SCConv(**kwargs)


def test_scconv_wrong_input_channels():
    with pytest.raises(ValueError, match='input has 3 channels but .*in_channels=8'):
        SCConv(8)(torch.randn(2, 3, 8, 8))
