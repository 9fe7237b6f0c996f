"""Tests of ``mmresfam.AttentionPoolingNeck``."""
import pytest
import torch
from mmpretrain.models import GlobalAveragePooling
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

from mmresfam.models.necks import AttentionPoolingNeck
from mmresfam.registry import MODELS


@pytest.mark.parametrize('attention', [
    dict(type='mmresfam.CBAM', reduction=4), dict(type='mmresfam.SGE', groups=4),
    dict(type='mmresfam.scSE', reduction=4), dict(type='mmresfam.DoubleAttention'),
    dict(type='mmresfam.SE', reduction=4), dict(type='CBAM'),
])
def test_neck_shapes_with_every_attention(attention):
    neck = MODELS.build(dict(type='mmresfam.AttentionPoolingNeck', attention=attention,
                             in_channels=16))
    x = torch.randn(2, 16, 5, 4)
    out = neck(x)
    assert out.shape == (2, 16)
    outs = neck((torch.randn(2, 16, 3, 3), x))
    assert isinstance(outs, tuple) and [o.shape for o in outs] == [(2, 16), (2, 16)]


def test_neck_is_attention_then_gap():
    torch.manual_seed(0)
    neck = AttentionPoolingNeck(dict(type='mmresfam.CBAM', reduction=4), in_channels=16).eval()
    x = torch.randn(2, 16, 5, 4)
    with torch.no_grad():
        torch.testing.assert_close(neck(x), GlobalAveragePooling()(neck.attentions[0](x)))
        # a zero-initialised A2 block is the identity: the neck is plain GAP at init
        a2 = AttentionPoolingNeck(dict(type='mmresfam.DoubleAttention'), in_channels=16)
        torch.testing.assert_close(a2(x), GlobalAveragePooling()(x))
        outs = a2((x, x))
        ref = GlobalAveragePooling()((x, x))
        torch.testing.assert_close(outs, ref)


def test_neck_per_input_modules():
    neck = AttentionPoolingNeck(dict(type='mmresfam.scSE', reduction=2), in_channels=[8, 16])
    assert len(neck.attentions) == 2
    assert [a.in_channels for a in neck.attentions] == [8, 16]
    outs = neck((torch.randn(2, 8, 6, 6), torch.randn(2, 16, 3, 3)))
    assert [o.shape for o in outs] == [(2, 8), (2, 16)]
    with pytest.raises(ValueError, match='got 1 feature maps but in_channels has 2'):
        neck((torch.randn(2, 8, 6, 6), ))
    with pytest.raises(ValueError, match='a tuple of feature maps is expected'):
        neck(torch.randn(2, 8, 6, 6))


def test_neck_gradients_train_eval():
    torch.manual_seed(0)
    neck = AttentionPoolingNeck(dict(type='mmresfam.CBAM', reduction=4), in_channels=16)
    x = torch.randn(2, 16, 4, 4, requires_grad=True)
    neck.train()
    neck(x).square().sum().backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in neck.parameters())
    neck.eval()
    with torch.no_grad():
        torch.testing.assert_close(neck(x), neck(x))


def test_neck_builds_from_mmpretrain_registry():
    neck = PRETRAIN_MODELS.build(dict(type='mmresfam.AttentionPoolingNeck',
                                      attention=dict(type='mmresfam.SGE', groups=2),
                                      in_channels=8))
    assert isinstance(neck, AttentionPoolingNeck)


@pytest.mark.parametrize('kwargs, exc, match', [
    (dict(attention='CBAM', in_channels=8), ValueError, "must be a config dict with a 'type'"),
    (dict(attention=dict(type='CBAM', in_channels=8), in_channels=8), ValueError,
     'give in_channels to the neck'),
    (dict(attention=dict(type='CBAM'), in_channels=0), ValueError,
     'in_channels must be a positive int'),
    (dict(attention=dict(type='CBAM'), in_channels=[]), ValueError,
     'in_channels must be a positive int'),
    (dict(attention=dict(type='CBAM', reduction=64), in_channels=8), ValueError,
     r'reduction must be an integer in \[1, 8\]'),
    (dict(attention=dict(type='NoSuchAttention'), in_channels=8), KeyError, 'NoSuchAttention'),
])
def test_neck_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        AttentionPoolingNeck(**kwargs)


def test_neck_bad_inputs():
    neck = AttentionPoolingNeck(dict(type='CBAM', reduction=4), in_channels=16)
    with pytest.raises(TypeError, match='tensor or a tuple'):
        neck([torch.randn(2, 16, 4, 4)])
    with pytest.raises(ValueError, match='input has 8 channels'):
        neck(torch.randn(2, 8, 4, 4))
