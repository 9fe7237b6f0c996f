"""The contract shared by the attention modules (``mmresfam/models/attentions/base.py``): one
attention-map protocol, one name for the reduction ratio."""
import inspect

import pytest
import torch
from mmpretrain.models.utils import SELayer

from mmresfam.models import attentions
from mmresfam.models.attentions import (CBAM, SCConv, SE, SGE, AttentionMapMixin,
                                        DoubleAttention, SplitAttentionConv2d, scSE)
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
