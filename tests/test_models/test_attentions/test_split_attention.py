"""Tests of the split-attention convolution in both forms (ResNeSt, Zhang et al. 2020)."""
import itertools

import pytest
import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from mmcv.cnn import build_plugin_layer
from mmpretrain.models.backbones.resnest import SplitAttentionConv2d as MMPreSplitAttention

from mmresfam.models.attentions import (RadixMajorSplitAttentionConv2d, SplitAttentionConv2d,
                                        attention_width, copy_split_attention_weights,
                                        split_attention_correspondence)
from mmresfam.registry import MODELS


def _randomize(module, seed=0):
    """Random weights *and* BN statistics, so no term of the function is trivially zero."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=gen, dtype=torch.float64) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=gen, dtype=torch.float64) * 0.5)
    return module


@pytest.mark.parametrize('groups,radix,stride,dilation',
                         [(1, 2, 1, 1), (2, 2, 2, 1), (4, 3, 1, 2), (1, 1, 2, 1), (2, 1, 1, 1),
                          (2, 4, 2, 2)])
def test_shapes_and_attention_width(groups, radix, stride, dilation):
    c = 16 * groups * radix
    m = SplitAttentionConv2d(c, c, 3, stride=stride, padding=dilation, dilation=dilation,
                             groups=groups, radix=radix)
    assert m.inter_channels == attention_width(c, radix, 4) == max(c * radix // 4, 32)
    assert m.fc1.weight.shape == (m.inter_channels, c // groups, 1, 1)
    assert m.fc2.weight.shape == (c * radix, m.inter_channels // groups, 1, 1)
    assert m.conv.groups == groups * radix
    out = m(torch.randn(2, c, 9, 9))
    assert out.shape == (2, c, (9 - 1) // stride + 1, (9 - 1) // stride + 1)


def test_defaults_make_it_a_plugin():
    m = MODELS.build(dict(type='mmresfam.SplitAttentionConv2d', in_channels=64))
    assert (m.channels, m.conv.kernel_size, m.conv.padding) == (64, (3, 3), (1, 1))
    name, layer = build_plugin_layer(dict(type='mmresfam.SplitAttentionConv2d', radix=4),
                                     in_channels=32, postfix='_x')
    assert isinstance(layer, SplitAttentionConv2d) and layer.radix == 4
    x = torch.randn(2, 32, 6, 6)
    assert layer(x).shape == x.shape
    rm = MODELS.build(dict(type='mmresfam.RadixMajorSplitAttentionConv2d', in_channels=32))
    assert rm(x).shape == x.shape


@pytest.mark.parametrize('groups,radix', [(1, 2), (2, 2), (2, 4), (1, 1), (4, 1)])
@pytest.mark.parametrize('train', [True, False])
def test_same_keys_and_function_as_mmpretrain(groups, radix, train):
    c = 16 * groups * radix
    ref = _randomize(MMPreSplitAttention(c, c, 3, stride=2, padding=1, groups=groups,
                                         radix=radix).double())
    ours = SplitAttentionConv2d(c, c, 3, stride=2, padding=1, groups=groups,
                                radix=radix).double()
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ref.train(train)
    ours.train(train)
    x = torch.randn(3, c, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-10)
    if train:  # the BN statistics moved the same way
        for k, v in ref.state_dict().items():
            torch.testing.assert_close(ours.state_dict()[k], v, rtol=0, atol=1e-10)


def _pair(groups, radix, stride, dilation, in_channels=None, channels=None):
    channels = channels or 8 * groups * radix
    in_channels = in_channels or channels
    kw = dict(kernel_size=3, stride=stride, dilation=dilation, groups=groups, radix=radix)
    fast = _randomize(SplitAttentionConv2d(in_channels, channels, **kw).double(), seed=1)
    rm = RadixMajorSplitAttentionConv2d(in_channels, channels, **kw).double()
    n = copy_split_attention_weights(fast, rm)
    assert n == len(split_attention_correspondence(fast, rm))
    return fast, rm


@pytest.mark.parametrize(
    'groups,radix,stride,dilation',
    [(1, 2, 1, 1), (2, 2, 2, 1), (4, 2, 1, 2), (2, 3, 2, 2), (3, 4, 1, 1), (1, 1, 1, 1),
     (4, 1, 2, 1)])
@pytest.mark.parametrize('train', [True, False])
def test_radix_major_equals_fast_form_outputs_and_gradients(groups, radix, stride, dilation,
                                                             train):
    """fp64, random weights and BN statistics: outputs, input gradients and every parameter
    gradient of the two forms agree within 1e-6 (the paper's claim, with a real test)."""
    fast, rm = _pair(groups, radix, stride, dilation, in_channels=8 * groups * radix * 2)
    fast.train(train)
    rm.train(train)
    x = torch.randn(3, fast.in_channels, 7, 7, dtype=torch.float64)
    x_f, x_r = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_f, out_r = fast(x_f), rm(x_r)
    torch.testing.assert_close(out_f, out_r, rtol=0, atol=1e-6)
    assert out_f.abs().max() > 1e-3  # not a trivially zero function
    grad_out = torch.randn_like(out_f)
    out_f.backward(grad_out)
    out_r.backward(grad_out)
    torch.testing.assert_close(x_f.grad, x_r.grad, rtol=0, atol=1e-6)
    checked = 0
    for name, f_t, rows, r_t in split_attention_correspondence(fast, rm):
        if isinstance(f_t, nn.Parameter):
            torch.testing.assert_close(f_t.grad[rows].reshape(r_t.shape), r_t.grad, rtol=0,
                                       atol=1e-6, msg=name)
            checked += 1
        elif train:  # running statistics updated identically
            torch.testing.assert_close(f_t[rows].reshape(r_t.shape), r_t, rtol=0, atol=1e-6,
                                       msg=name)
    # conv + bn0 (weight, bias) + per group fc1/fc2/bn1 (weight, bias): every parameter
    assert checked == 3 + 6 * groups


def test_copy_weights_both_directions():
    fast, rm = _pair(2, 2, 1, 1)
    _randomize(rm, seed=5)
    fast2 = SplitAttentionConv2d(fast.in_channels, fast.channels, groups=2, radix=2).double()
    copy_split_attention_weights(rm, fast2)  # radix-major -> fast
    fast2.eval()
    rm.eval()
    x = torch.randn(2, fast.in_channels, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(fast2(x), rm(x), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match='groups differs'):
        copy_split_attention_weights(
            SplitAttentionConv2d(32, 32, groups=2, radix=2),
            RadixMajorSplitAttentionConv2d(32, 32, groups=1, radix=2))
    with pytest.raises(TypeError, match='expects a SplitAttentionConv2d'):
        split_attention_correspondence(rm, fast)
    with pytest.raises(ValueError, match='only BatchNorm-type'):
        copy_split_attention_weights(
            SplitAttentionConv2d(32, 32, norm_cfg=dict(type='GN', num_groups=4)),
            RadixMajorSplitAttentionConv2d(32, 32, norm_cfg=dict(type='GN', num_groups=4)))


def test_radix_one_is_a_sigmoid_gate():
    m = _randomize(SplitAttentionConv2d(32, 32, radix=1).double())
    m.eval()
    x = torch.randn(2, 32, 5, 5, dtype=torch.float64)
    feats = m.split_conv(x)
    gate = m.fc2(m.relu(m.norm1(m.fc1(feats.mean((2, 3), keepdim=True)))))
    torch.testing.assert_close(m(x), feats * torch.sigmoid(gate))


def test_softmax_over_radix_weights_sum_to_one():
    """With identical splits (equal radix filters on equal input groups) the output is that
    split: the radix weights of every channel sum to one."""
    m = SplitAttentionConv2d(32, 16, groups=2, radix=4).double()
    m.eval()
    with torch.no_grad():
        w = m.conv.weight.view(4, 2, 8, *m.conv.weight.shape[1:])
        w.copy_(w[:1].expand_as(w).clone())
    # input group r * K + k of the split conv sees the same channels for every r
    x = torch.randn(2, 8, 5, 5, dtype=torch.float64).repeat(1, 4, 1, 1)
    one_split = m.split_conv(x)[:, :16]
    torch.testing.assert_close(m(x), one_split)


@pytest.mark.parametrize('cls', [SplitAttentionConv2d, RadixMajorSplitAttentionConv2d])
def test_batch_of_one_in_training_uses_running_stats(cls):
    """Documented behaviour: training with a batch of 1 does not crash; the attention BN then
    normalises with (and does not update) its running statistics, and still gets gradients."""
    m = _randomize(cls(32, 32, radix=2).double())
    m.train()
    x = torch.randn(1, 32, 6, 6, dtype=torch.float64)
    norms = [mod for name, mod in m.named_modules()
             if isinstance(mod, nn.BatchNorm2d) and not name.endswith('bn0')]
    before = [n.running_mean.clone() for n in norms]
    out = m(x)
    out.sum().backward()
    for n, b in zip(norms, before):
        torch.testing.assert_close(n.running_mean, b)  # not updated
        assert n.weight.grad is not None and n.weight.grad.abs().sum() > 0
    assert m.norm0.num_batches_tracked.item() == 1  # bn0 (36 values per channel) trains
    # equals the same module with the attention norm(s) in eval mode
    for n in norms:
        n.eval()
    torch.testing.assert_close(out, m(x))


def test_batch_of_one_without_running_stats_is_a_clear_error():
    m = SplitAttentionConv2d(32, 32, norm_cfg=dict(type='BN', track_running_stats=False))
    m.train()
    with pytest.raises(ValueError, match='batch size > 1, norm_eval=True'):
        m(torch.randn(1, 32, 4, 4))
    m(torch.randn(2, 32, 4, 4))  # fine with a real batch


def test_no_norm():
    m = SplitAttentionConv2d(32, 32, norm_cfg=None)
    assert isinstance(m.norm0, nn.Identity) and isinstance(m.norm1, nn.Identity)
    m.train()
    assert m(torch.randn(1, 32, 4, 4)).shape == (1, 32, 4, 4)


def test_compiles_without_graph_breaks():
    m = SplitAttentionConv2d(32, 32, groups=2, radix=2)
    m.eval()
    x = torch.randn(2, 32, 6, 6)
    compiled = torch.compile(m, backend='eager', fullgraph=True)
    torch.testing.assert_close(compiled(x), m(x))


def test_channels_last_input():
    m = SplitAttentionConv2d(32, 32, groups=2, radix=2).to(memory_format=torch.channels_last)
    m.eval()
    x = torch.randn(2, 32, 6, 6)
    torch.testing.assert_close(m(x.to(memory_format=torch.channels_last)), m(x))


@pytest.mark.parametrize('kwargs,match', [
    (dict(radix=0), 'radix must be an integer >= 1'),
    (dict(groups=0), 'groups must be an integer >= 1'),
    (dict(reduction_factor=0), 'reduction_factor must be an integer >= 1'),
    (dict(in_channels=30, radix=4), r'in_channels=30 must be divisible by groups \* radix=4'),
    (dict(channels=30, groups=4), 'channels=30 must be divisible by groups=4'),
    (dict(in_channels=48, channels=48, groups=3, radix=1),
     r'attention width .* must be divisible by groups=3'),
])
@pytest.mark.parametrize('cls', [SplitAttentionConv2d, RadixMajorSplitAttentionConv2d])
def test_bad_arguments(cls, kwargs, match):
    args = dict(in_channels=32, channels=32)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cls(**args)


class _CountOps(TorchDispatchMode):

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def test_fast_form_has_no_python_loop_over_groups():
    """The fast forward runs the same ops whatever the cardinality (groups 2 and 4 here;
    with groups == 1 the FCs are matrix multiplies, :func:`pointwise_conv`) and only an
    in-place multiply-add (with its two slices) per extra split; the radix-major reference
    loops over groups and splits."""
    counts, rm_counts = {}, set()
    for groups, radix in itertools.product((2, 4), (2, 8)):
        x = torch.randn(2, 64, 6, 6)
        for cls in (SplitAttentionConv2d, RadixMajorSplitAttentionConv2d):
            m = cls(64, 64, groups=groups, radix=radix)
            m.eval()
            with torch.no_grad(), _CountOps() as ops:
                m(x)
            if cls is SplitAttentionConv2d:
                counts[groups, radix] = ops.count
            else:
                rm_counts.add(ops.count)
    for radix in (2, 8):
        assert counts[4, radix] == counts[2, radix], counts
    for groups in (2, 4):
        assert counts[groups, 8] - counts[groups, 2] <= 3 * (8 - 2), counts
    assert len(rm_counts) == 4, rm_counts
