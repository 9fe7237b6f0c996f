"""The contract shared by the attention modules (``mmresfam/models/attentions/base.py``): one
attention-map protocol, one name for the reduction ratio, one rule for a norm on one value per
channel (batch of 1 in training)."""
import copy
import inspect

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmpretrain.models.utils import SELayer

from mmresfam.models import attentions
from mmresfam.models.attentions import (CBAM, SCConv, SE, SGE, SK, AttentionMapMixin,
                                        DoubleAttention, SplitAttentionConv2d, attention_norm,
                                        conv_module_forward, scSE)
from mmresfam.registry import MODELS


def _registered_attentions():
    """Every class the registry holds from the attentions package."""
    return {name: cls for name, cls in MODELS.module_dict.items()
            if isinstance(cls, type) and cls.__module__.startswith(attentions.__name__)}


MAP_MODULES = {CBAM: dict(reduction=4), SGE: dict(groups=4), scSE: dict(reduction=4),
               DoubleAttention: dict(), SCConv: dict()}


def test_the_modules_with_maps_share_one_protocol():
    with_maps = {cls for cls in _registered_attentions().values()
                 if issubclass(cls, AttentionMapMixin)}
    assert with_maps == set(MAP_MODULES)
    for cls in with_maps:  # none redefines the protocol
        assert not {'record_attention', 'last_attention_map', '_store_map'} & set(vars(cls))


@pytest.mark.parametrize('cls', list(MAP_MODULES), ids=lambda c: c.__name__)
def test_attention_map_protocol(cls):
    torch.manual_seed(0)
    m, other = cls(16, **MAP_MODULES[cls]), cls(16, **MAP_MODULES[cls])
    x = torch.randn(2, 16, 6, 5, requires_grad=True)
    assert m.record_attention is False and m.last_attention_map is None
    m(x)
    assert m.last_attention_map is None            # nothing stored by default
    m.record_attention = True
    out = m(x)
    amap = m.last_attention_map
    assert amap.shape[0] == 2 and amap.shape[-2:] == (6, 5)
    assert not amap.requires_grad and out.requires_grad
    other(x)                                       # the flag is per instance
    assert other.record_attention is False and other.last_attention_map is None
    m.record_attention = False
    m.last_attention_map = None
    m(x)
    assert m.last_attention_map is None


def test_double_attention_stores_its_second_map_through_the_protocol():
    m = DoubleAttention(16)
    m(torch.randn(1, 16, 4, 4))
    assert m.last_distribution_map is None
    m.record_attention = True
    m(torch.randn(1, 16, 4, 4))
    torch.testing.assert_close(m.last_distribution_map.sum(1), torch.ones(1, 4, 4))


# reduction ratio: one name, plus the reference's name where a module stands in for it
ALIASES = {'SE': 'ratio', 'SplitAttentionConv2d': 'reduction_factor',
           'RadixMajorSplitAttentionConv2d': 'reduction_factor'}


def test_one_name_for_the_reduction_ratio():
    for name, cls in _registered_attentions().items():
        params = inspect.signature(cls).parameters
        ratio_like = {p for p in params if 'ratio' in p or 'reduction' in p}
        expected = {'reduction', ALIASES[name]} if name in ALIASES else {'reduction'}
        if ratio_like:
            assert ratio_like == expected, name
        else:
            assert name not in ALIASES


def test_se_accepts_mmpretrain_ratio_and_loads_selayer_weights():
    theirs = SELayer(64, ratio=8)
    ours = SE(64, ratio=8)
    assert ours.squeeze_channels == SE(64, reduction=8).squeeze_channels == 8
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 64, 3, 3)
    torch.testing.assert_close(ours(x), theirs(x))


def test_split_attention_accepts_reduction_factor():
    a = SplitAttentionConv2d(32, radix=2, reduction_factor=2)
    b = SplitAttentionConv2d(32, radix=2, reduction=2)
    assert a.inter_channels == b.inter_channels == 32
    assert SplitAttentionConv2d(64, radix=2).inter_channels == 32   # default 4
    built = MODELS.build(dict(type='mmresfam.SplitAttentionConv2d', in_channels=128,
                              reduction_factor=2))
    assert built.inter_channels == 128


@pytest.mark.parametrize('build, match', [
    (lambda: SE(16, reduction=4, ratio=4), 'give the reduction ratio once'),
    (lambda: SplitAttentionConv2d(32, reduction=4, reduction_factor=4),
     'give the reduction ratio once, as reduction or as reduction_factor'),
])
def test_both_names_is_an_error(build, match):
    with pytest.raises(TypeError, match=match):
        build()


def test_an_alias_is_checked_under_its_own_name():
    with pytest.raises(ValueError, match=r'SE: ratio must be an integer in \[1, 8\], got 16'):
        SE(8, ratio=16)


# batch of 1 in training: the norms of attention branches on one value per channel
def test_attention_norm_uses_running_stats_for_one_value_per_channel():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(4).train()
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 2)
    for x in (torch.randn(1, 4, 1, 1), torch.randn(1, 4, 1, 1, dtype=torch.float64)):
        bn = bn.to(x.dtype)
        before = bn.running_mean.clone()
        out = attention_norm(bn, x)
        torch.testing.assert_close(out, (x - bn.running_mean.view(1, 4, 1, 1)) / torch.sqrt(
            bn.running_var.view(1, 4, 1, 1) + bn.eps) * bn.weight.view(1, 4, 1, 1)
            + bn.bias.view(1, 4, 1, 1))
        assert torch.equal(bn.running_mean, before) and bn.num_batches_tracked.item() == 0
    # more than one value per channel: the norm's own forward (batch statistics, updated)
    for shape in ((2, 4, 1, 1), (1, 4, 2, 1)):
        x = torch.randn(shape, dtype=torch.float64)
        ref = copy.deepcopy(bn)
        torch.testing.assert_close(attention_norm(bn, x), ref(x))
        torch.testing.assert_close(bn.running_mean, ref.running_mean)
    assert bn.num_batches_tracked.item() == 2


def test_attention_norm_leaves_other_norms_alone():
    gn = nn.GroupNorm(2, 4)
    x = torch.randn(1, 4, 1, 1)
    torch.testing.assert_close(attention_norm(gn, x), gn(x))
    bn = nn.BatchNorm2d(4).eval()
    torch.testing.assert_close(attention_norm(bn, x), bn(x))


def test_conv_module_forward_is_the_module_forward():
    m = ConvModule(4, 6, 1, norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU')).train()
    ref = copy.deepcopy(m)
    x = torch.randn(3, 4, 2, 2)
    torch.testing.assert_close(conv_module_forward(m, x), ref(x))
    torch.testing.assert_close(m.norm.running_var, ref.norm.running_var)
    bare = ConvModule(4, 6, 1, act_cfg=None)
    torch.testing.assert_close(conv_module_forward(bare, x), bare(x))


@pytest.mark.parametrize('cls, kwargs, size, norm', [
    (SK, dict(min_channels=8), 5, 'attn_reduce.bn'),
    (SCConv, dict(), 7, 'k2.bn'),         # 7x7 pooled by 4: 1x1, as SCNet's last stage at 224
    (SplitAttentionConv2d, dict(), 5, 'bn1'),
])
def test_attention_branch_norm_at_batch_1(cls, kwargs, size, norm):
    """Training with a batch of 1 works; the attention-branch BN then equals its eval-mode
    self (running statistics, not updated) and still gets gradients; the other BNs train."""
    torch.manual_seed(0)
    m = cls(16, **kwargs).train()
    branch_bn = m.get_submodule(norm)
    with torch.no_grad():
        branch_bn.running_mean.normal_()
        branch_bn.running_var.uniform_(0.5, 2)
    x = torch.randn(1, 16, size, size)
    out = m(x)
    out.square().sum().backward()
    assert branch_bn.num_batches_tracked.item() == 0
    assert branch_bn.weight.grad.abs().sum() > 0
    others = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d) and b is not branch_bn]
    assert others and all(b.num_batches_tracked.item() == 1 for b in others)
    ref = copy.deepcopy(m)
    ref.get_submodule(norm).eval()  # the other norms still use the batch's statistics
    torch.testing.assert_close(out, ref(x))


def test_batch_1_without_running_stats_is_a_clear_error():
    m = SK(16, min_channels=8, norm_cfg=dict(type='BN', track_running_stats=False)).train()
    with pytest.raises(ValueError, match='one value per channel .* batch size > 1'):
        m(torch.randn(1, 16, 4, 4))


def _smallest_backbone(name):
    cls = MODELS.get(name)
    if name == 'ResidualAttentionNet':
        return dict(type=f'mmresfam.{name}', arch='attention56-cifar')
    return dict(type=f'mmresfam.{name}', depth=min(cls.arch_settings))


@pytest.mark.parametrize('name', ['ResNeSt', 'SKNet', 'SCNet'])
def test_backbone_trains_one_step_at_batch_1(name):
    """The families whose blocks hold an attention-branch norm: one SGD step with a batch of
    1 (at 64 px SCNet's last two stages are 4x4 and 2x2, pooled to 1x1 by its calibration
    branch; SK's and split attention's branches always pool to 1x1)."""
    torch.manual_seed(0)
    model = MODELS.build(_smallest_backbone(name)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = model(torch.randn(1, 3, 64, 64))[-1].square().mean()
    loss.backward()
    opt.step()
    after = model.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values())
    changed = {k for k in before if not torch.equal(after[k], before[k])}
    assert any(k.startswith('layer4.') and k.endswith('weight') for k in changed)
    counts = {k[:-len('.num_batches_tracked')]: int(v) for k, v in after.items()
              if k.endswith('num_batches_tracked')}
    branch = [k for k in counts if k.endswith(('attn_reduce.bn', 'k2.bn', 'conv2.bn1'))]
    assert branch and any(counts[k] == 0 for k in branch)  # running statistics used, kept
    assert all(counts[k] == 1 for k in counts if k.startswith('layer4.') and k not in branch)
