"""Tests of the Selective Kernel unit ``mmresfam.SK``."""
import pytest
import torch
import torch.nn.functional as F

from mmresfam.models.attentions import SK
from mmresfam.registry import MODELS
from test_models._helpers import assert_grads_reach_every_parameter, randomise_bn


def _reference(sk, x):
    """The paper's equations written naively, with the module's own weights (eval mode)."""
    m = sk.num_branches
    inputs = x.chunk(m, 1) if sk.split_input else [x] * m
    feats = []
    for i, (branch, xi) in enumerate(zip(sk.branches, inputs)):
        conv, bn = branch.conv, branch.bn
        dil = (i + 1) * sk.branches[0].conv.dilation[0]   # 3x3, 5x5, 7x7 ... receptive fields
        y = F.conv2d(xi, conv.weight, None, conv.stride, dil, dil, conv.groups)
        y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0, bn.eps)
        feats.append(F.relu(y))
    u = sum(feats)                                  # fuse
    s = u.mean(dim=(2, 3))                          # squeeze (B, C)
    red = sk.attn_reduce
    z = F.linear(s, red.conv.weight.flatten(1))
    z = F.relu(F.batch_norm(z, red.bn.running_mean, red.bn.running_var, red.bn.weight,
                            red.bn.bias, False, 0, red.bn.eps))
    c = sk.out_channels
    w = sk.attn_select.weight.flatten(1)            # (M*C, d): one FC per branch
    logits = torch.stack([F.linear(z, w[i * c:(i + 1) * c]) for i in range(m)])  # (M, B, C)
    a = logits.exp() / logits.exp().sum(0, keepdim=True)                         # softmax
    return sum(a[i][..., None, None] * feats[i] for i in range(m))


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(num_branches=3, reduction=4, min_channels=4),
    dict(num_branches=1),
    dict(groups=4, split_input=True, out_channels=32, stride=2),
    dict(dilation=2),
])
def test_sk_matches_paper_equations(kwargs):
    torch.manual_seed(0)
    sk = MODELS.build(dict(type='mmresfam.SK', in_channels=16, **kwargs))
    randomise_bn(sk)
    sk.eval()
    x = torch.randn(2, 16, 9, 7)
    with torch.no_grad():
        out = sk(x)
        ref = _reference(sk, x)
    stride = kwargs.get('stride', 1)
    assert out.shape == (2, kwargs.get('out_channels', 16), -(-9 // stride), -(-7 // stride))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_sk_structure_and_attention_width():
    sk = SK(256, reduction=16, min_channels=32)
    assert sk.attn_channels == 32                 # max(256 // 16, 32)
    assert SK(1024).attn_channels == 64           # max(1024 // 16, 32)
    assert [b.conv.dilation for b in sk.branches] == [(1, 1), (2, 2)]
    assert [b.conv.padding for b in sk.branches] == [(1, 1), (2, 2)]
    assert sk.attn_select.weight.shape == (2 * 256, 32, 1, 1)
    assert sk._abbr_ == 'sk'
    # split input: each branch sees in_channels / M channels
    assert SK(64, 32, split_input=True).branches[0].conv.in_channels == 32


def test_sk_one_branch_is_plain_conv_bn_relu():
    sk = SK(8, num_branches=1, reduction=4, min_channels=2)
    sk.eval()
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(sk(x), sk.branches[0](x))


def test_sk_gradients_and_train_mode():
    sk = SK(16, 24, groups=8, reduction=4, min_channels=4)
    sk.train()
    x = torch.randn(2, 16, 8, 8, requires_grad=True)
    sk(x).square().mean().backward()
    assert_grads_reach_every_parameter(sk, x)


def test_sk_as_mmdet_plugin():
    from mmdet.models.backbones import ResNet as MMDetResNet
    net = MMDetResNet(
        depth=50, out_indices=(3, ), base_channels=16,
        plugins=[dict(cfg=dict(type='mmresfam.SK', reduction=4, min_channels=8),
                      stages=(False, False, False, True), position='after_conv3')])
    net.eval()
    assert net.layer4[0].after_conv3_plugin_names == ['sk']   # mmdet names it by _abbr_
    assert isinstance(net.layer4[0].sk, SK)
    with torch.no_grad():
        out = net(torch.randn(1, 3, 32, 32))
    assert out[0].shape == (1, 512, 1, 1)


def test_sk_compiles_without_graph_breaks():
    sk = SK(8, reduction=2, min_channels=4)
    sk.eval()
    explanation = torch._dynamo.explain(sk)(torch.randn(2, 8, 5, 5))
    assert explanation.graph_break_count == 0


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=8, reduction=2, num_branches=0), 'num_branches must be an integer >= 1'),
    (dict(in_channels=8, reduction=16), r'reduction must be an integer in \[1, 8\]'),
    (dict(in_channels=8, reduction=0), 'reduction'),
    (dict(in_channels=12, reduction=2, groups=8), 'divisible by groups=8'),
    (dict(in_channels=8, out_channels=12, reduction=2, groups=8),
     'out_channels=12 must be divisible'),
    (dict(in_channels=9, reduction=2, split_input=True),
     'in_channels=9 must be divisible by num_branches'),
    (dict(in_channels=8, reduction=2, min_channels=0), 'min_channels'),
    (dict(in_channels=8, reduction=2, stride=0), 'stride'),
])
def test_sk_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SK(**kwargs)


def test_sk_wrong_input_channels():
    with pytest.raises(ValueError, match='input has 4 channels but .*in_channels=8'):
        SK(8, reduction=2, min_channels=2)(torch.randn(2, 4, 5, 5))
