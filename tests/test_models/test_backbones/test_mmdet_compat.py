"""MMDetection compatibility of the backbones: plugin entries and module names exactly as
MMDetection 3.3's ``ResNet`` builds them, and its ``dcn``/``stage_with_dcn`` (mmcv's deformable
convs, run on CPU here), each checked by loading MMDetection's own state_dict with
``strict=True`` and comparing the outputs."""
import re

import pytest
import torch
from mmcv.ops import DeformConv2dPack, ModulatedDeformConv2dPack
from mmdet.models.backbones import ResNeSt as MMDetResNeSt
from mmdet.models.backbones import ResNet as MMDetResNet
from mmdet.models.backbones import ResNeXt as MMDetResNeXt

from mmresfam.models.backbones import (ResidualAttentionNet, ResNeSt, ResNet, ResNetV2,
                                       ResNeXt, SCNet, SEResNet, SKNet)
from test_models._helpers import randomise_bn

# a ResNet-50 layout at 1/4 width: stage outputs 64/128/256/512, fast on CPU
SMALL = dict(depth=50, base_channels=16, stem_channels=16, out_indices=(0, 1, 2, 3))
C3_C5 = (False, True, True, True)
DCN = {'DCN': DeformConv2dPack, 'DCNv2': ModulatedDeformConv2dPack}


def _randomise(model, seed=0):
    """Non-trivial values everywhere: BN statistics/affines (zero-initialised bn3 included)
    and deformable-conv offsets (zero-initialised by mmcv, which would make a DCN a plain
    conv)."""
    randomise_bn(model, seed)
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, tuple(DCN.values())):
            m.conv_offset.weight.data.copy_(
                torch.randn(m.conv_offset.weight.shape, generator=g) * 0.05)


def _assert_same_function(theirs, ours, state=None, size=32):
    """Load ``theirs``' state_dict (renamed by ``state`` if given) into ``ours`` strictly and
    compare every output in eval mode (a ``size`` x ``size`` input)."""
    _randomise(theirs)
    sd = theirs.state_dict()
    ours.load_state_dict(state(sd) if state else sd, strict=True)
    theirs.eval()
    ours.eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        outs_theirs, outs_ours = theirs(x), ours(x)
    assert len(outs_theirs) == len(outs_ours) == 4
    for a, b in zip(outs_theirs, outs_ours):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


# --- plugins ----------------------------------------------------------------------------------
GCNET = [dict(cfg=dict(type='ContextBlock', ratio=1. / 16), stages=C3_C5,
              position='after_conv3')]
EMPIRICAL_ATTENTION = [dict(cfg=dict(type='GeneralizedAttention', spatial_range=-1,
                                     num_heads=8, attention_type='0010', kv_stride=2),
                            stages=(False, False, True, True), position='after_conv2')]
POSTFIXES = [dict(cfg=dict(type='ContextBlock', ratio=1. / 4, postfix=1), stages=C3_C5,
                  position='after_conv3'),
             dict(cfg=dict(type='ContextBlock', ratio=1. / 4, postfix=2), position='after_conv1'),
             dict(cfg=dict(type='mmresfam.CBAM', postfix='_c'), position='after_conv2')]


@pytest.mark.parametrize('plugins, names', [
    (GCNET, {'after_conv3': ['context_block']}),
    (EMPIRICAL_ATTENTION, {'after_conv2': ['gen_attention_block']}),
    (POSTFIXES, {'after_conv1': ['context_block2'], 'after_conv2': ['cbam_c'],
                 'after_conv3': ['context_block1']}),
], ids=['gcnet', 'empirical_attention', 'postfixes'])
def test_mmdet_plugin_checkpoints_load_strictly(plugins, names):
    """MMDetection's ResNet with plugins and ours: the same module names, its state_dict loads
    with strict=True and the outputs are equal."""
    torch.manual_seed(0)
    theirs = MMDetResNet(plugins=plugins, norm_eval=False, **SMALL)
    ours = ResNet(plugins=plugins, **SMALL)
    block = ours.layer4[0]
    for position, expected in names.items():
        assert block.plugin_names[position] == expected
        assert getattr(theirs.layer4[0], f'{position}_plugin_names') == expected
    _assert_same_function(theirs, ours)


def test_same_name_twice_in_a_block_is_refused_as_in_mmdet():
    plugins = [dict(cfg=dict(type='ContextBlock', ratio=1. / 4), position='after_conv1'),
               dict(cfg=dict(type='ContextBlock', ratio=1. / 4), position='after_conv3')]
    with pytest.raises(AssertionError, match='duplicate plugin context_block'):
        MMDetResNet(plugins=plugins, **SMALL)
    with pytest.raises(ValueError, match=r"Bottleneck: two plugins .* named 'context_block'; "
                                         r'give the plugins distinct cfg.postfix values'):
        ResNet(plugins=plugins, **SMALL)


def test_basic_block_plugin_names_keep_the_position():
    """MMDetection's basic block takes no plugins; ours are named by position."""
    model = ResNet(depth=18, plugins=[
        dict(cfg=dict(type='ContextBlock', ratio=1. / 4), position='after_conv1'),
        dict(cfg=dict(type='ContextBlock', ratio=1. / 4, postfix=1), position='after_conv2')])
    assert model.layer1[0].plugin_names == {'after_conv1': ['context_block_after_conv1_0'],
                                            'after_conv2': ['context_block1_after_conv2_0']}


@pytest.mark.parametrize('postfix', [1.5, None, True])
def test_postfix_must_be_an_int_or_a_str(postfix):
    with pytest.raises(ValueError, match=r'plugins\[0\].cfg.postfix must be an int or a str'):
        ResNet(plugins=[dict(cfg=dict(type='ContextBlock', ratio=1. / 4, postfix=postfix),
                             position='after_conv3')], **SMALL)


# --- dcn ----------------------------------------------------------------------------------
def _mmdet_resnest_keys(sd):
    """MMDetection's ResNeSt keys -> ours (MMPreTrain's): its flat deep stem and the pool it
    puts in the stride-1 shortcut of layer 1."""
    stem = {'0': '0.conv', '1': '0.bn', '3': '1.conv', '4': '1.bn', '6': '2.conv', '7': '2.bn'}
    out = {}
    for key, value in sd.items():
        key = re.sub(r'^stem\.(\d)\.', lambda m: f'stem.{stem[m.group(1)]}.', key)
        key = re.sub(r'^layer1\.0\.downsample\.(\d)\.',
                     lambda m: f'layer1.0.downsample.{int(m.group(1)) - 1}.', key)
        out[key] = value
    return out


FAMILIES = {
    'ResNet': (lambda dcn: MMDetResNet(dcn=dcn, stage_with_dcn=C3_C5, **SMALL),
               lambda dcn: ResNet(dcn=dcn, stage_with_dcn=C3_C5, **SMALL), None),
    'ResNeXt': (lambda dcn: MMDetResNeXt(groups=8, base_width=4, dcn=dcn, stage_with_dcn=C3_C5,
                                         **SMALL),
                lambda dcn: ResNeXt(groups=8, width_per_group=4, dcn=dcn, stage_with_dcn=C3_C5,
                                    **SMALL), None),
    'ResNeSt': (lambda dcn: MMDetResNeSt(radix=2, reduction_factor=4, dcn=dcn,
                                         stage_with_dcn=C3_C5, **SMALL),
                lambda dcn: ResNeSt(radix=2, reduction_factor=4, dcn=dcn, stage_with_dcn=C3_C5,
                                    **SMALL), _mmdet_resnest_keys),
}


@pytest.mark.parametrize('dcn_type', sorted(DCN))
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_dcn_parity_with_mmdet(family, dcn_type):
    """MMDetection's backbone with deformable convs in stages 2-4 (c3-c5): the same modules
    where it has them, its state_dict loads with strict=True, equal outputs."""
    dcn = dict(type=dcn_type, deform_groups=1, fallback_on_stride=False)
    make_theirs, make_ours, rename = FAMILIES[family]
    torch.manual_seed(0)
    theirs, ours = make_theirs(dict(dcn)), make_ours(dict(dcn))
    for i, layer in enumerate((ours.layer1, ours.layer2, ours.layer3, ours.layer4)):
        for block in layer:
            conv = block.conv2.conv if family == 'ResNeSt' else block.conv2
            assert isinstance(conv, DCN[dcn_type]) == C3_C5[i]
    # 96 px: mmcv's CPU deform conv refuses maps smaller than its 3x3 kernel (stage 4: 3x3)
    _assert_same_function(theirs, ours, rename, size=96)


def test_dcn_on_other_bottleneck_families():
    dcn = dict(type='DCN', deform_groups=1, fallback_on_stride=False)
    for model in (SEResNet(dcn=dcn, stage_with_dcn=C3_C5, **SMALL),
                  ResNetV2(dcn=dcn, stage_with_dcn=C3_C5, **SMALL)):
        assert not isinstance(model.layer1[0].conv2, DeformConv2dPack)
        assert isinstance(model.layer4[-1].conv2, DeformConv2dPack)
        out = model(torch.randn(2, 3, 96, 96))[-1]
        out.sum().backward()
        assert model.layer4[-1].conv2.conv_offset.weight.grad is not None


def test_fallback_on_stride_keeps_strided_convs_plain():
    model = ResNet(dcn=dict(type='DCN', fallback_on_stride=True), stage_with_dcn=C3_C5, **SMALL)
    assert type(model.layer2[0].conv2) is torch.nn.Conv2d      # strided
    assert isinstance(model.layer2[1].conv2, DeformConv2dPack)  # not strided


@pytest.mark.parametrize('build, exc, match', [
    (lambda: ResNet(depth=18, dcn=dict(type='DCN'), stage_with_dcn=C3_C5), ValueError,
     r'ResNet: dcn needs bottleneck blocks with a plain 3x3 conv; depth=18 builds BasicBlock'),
    (lambda: SKNet(dcn=dict(type='DCN'), stage_with_dcn=C3_C5, **SMALL), ValueError,
     'SKNet: dcn needs bottleneck blocks .* builds SKBottleneck'),
    (lambda: SCNet(dcn=dict(type='DCN'), stage_with_dcn=C3_C5, **SMALL), ValueError,
     'SCNet: dcn needs bottleneck blocks .* builds SCBottleneck'),
    (lambda: ResidualAttentionNet(dcn=dict(type='DCN'), stage_with_dcn=C3_C5), ValueError,
     'ResidualAttentionNet: dcn is not supported'),
    (lambda: ResNet(dcn=dict(type='DCN'), stage_with_dcn=(False, True, True), **SMALL),
     ValueError, 'stage_with_dcn has 3 entries but num_stages=4; give one bool per stage'),
    (lambda: ResNet(stage_with_dcn=C3_C5, **SMALL), ValueError,
     r'stage_with_dcn=\(False, True, True, True\) has no effect without dcn'),
    (lambda: ResNet(dcn=dict(deform_groups=1), stage_with_dcn=C3_C5, **SMALL), ValueError,
     "dcn must be a dict with a 'type'"),
    (lambda: ResNet(dcn=dict(type='DCN'), stage_with_dcn=C3_C5, conv_cfg=dict(type='Conv2d'),
                    **SMALL), ValueError, 'conv_cfg must be None with dcn'),
])
def test_dcn_errors(build, exc, match):
    with pytest.raises(exc, match=match):
        build()
