"""Every config under configs/mmseg builds its segmentor with a dilated mmresfam backbone.

Also covers MMSegmentation's ``EncoderDecoder`` setting ``backbone.pretrained`` from a
model-level ``pretrained`` and the usual inheritance without ``_delete_``.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmresfam  # noqa: F401
from conftest import ROOT
from mmresfam.models.utils import check_neck_channels

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'mmseg', '*.py')))
METHODS = {'deeplabv3': 'ASPPHead', 'pspnet': 'PSPHead', 'fcn': 'FCNHead'}


@pytest.fixture(scope='module')
def seg_models():
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return MODELS


def test_resnest50_and_three_other_families_have_deeplabv3():
    names = [osp.basename(p) for p in CONFIGS]
    families = {n.split('-d8_')[0] for n in names if '_deeplabv3_' in n}
    assert 'resnest-s50' in families and len(families) >= 4, families
    assert {'resnest-s50-d8_deeplabv3', 'resnest-s50-d8_pspnet', 'resnest-s50-d8_fcn'} <= {
        n.split('_4xb4')[0] for n in names}
    for family in families:  # every family also has an FCN or a PSPNet
        assert any(n.startswith(f'{family}-d8_') and ('_fcn_' in n or '_pspnet_' in n)
                   for n in names), family


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_dilated_segmentor(path, seg_models):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    bb_cfg = cfg.model.backbone
    assert bb_cfg.type.startswith('mmresfam.')
    assert tuple(bb_cfg.strides) == (1, 2, 1, 1) and tuple(bb_cfg.dilations) == (1, 1, 2, 4)
    assert bb_cfg.contract_dilation is True and bb_cfg.norm_cfg.type == 'SyncBN'
    assert not {'style', 'num_stages'} & set(bb_cfg)  # `_delete_` dropped ResNetV1c's keys
    # the base's model-level ResNet-V1c weights must not reach our backbone
    assert cfg.model.pretrained is None
    assert bb_cfg.init_cfg.type == 'Pretrained' and bb_cfg.init_cfg.prefix == 'backbone.'

    model = seg_models.build(cfg.model)
    method = osp.basename(path).split('-d8_')[1].split('_')[0]
    assert type(model.decode_head).__name__ == METHODS[method]
    backbone = model.backbone
    assert type(backbone).__module__.startswith('mmresfam.')
    check_neck_channels(model)  # decode/auxiliary head in_channels == backbone channels
    backbone.eval()
    with torch.no_grad():
        outs = backbone(torch.rand(1, 3, 64, 64))
    # output stride 8: stage 1 at 1/4, stages 2-4 stay at 1/8
    assert [o.shape[-1] for o in outs] == [16, 8, 8, 8]
    assert [o.shape[1] for o in outs] == backbone.out_channels
    # contract_dilation: first block of stage 4 uses dilation 2, the others 4
    dils = [m.dilation[0] for m in backbone.layer4.modules()
            if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] == 3]
    assert dils and dils[0] == 2 and dils[-1] == 4, dils


def _write(tmp_path, text):
    path = tmp_path / 'cfg.py'
    path.write_text(text)
    return Config.fromfile(str(path))


@pytest.mark.parametrize('family,extra', [
    ('ResNeSt', dict(stem_channels=64, radix=2)),
    ('ResNeXt', dict(groups=32, width_per_group=4)),
    ('SEResNet', {}),
    ('ResNetV2', {}),
])
def test_inherit_mmseg_base_without_delete(family, extra, seg_models, tmp_path):
    """mmseg's usual pattern (as in its configs/resnest): only ``type`` and the new arguments
    are given; ResNetV1c's keys (contract_dilation, dilations, style, ...) are merged in and the
    base's model-level ``pretrained`` becomes ``backbone.pretrained``."""
    cfg = _write(tmp_path,
                 "_base_ = 'mmseg::pspnet/pspnet_r50-d8_4xb4-160k_ade20k-512x512.py'\n"
                 f"model = dict(backbone=dict(type='mmresfam.{family}', **{extra!r}))\n")
    assert cfg.model.backbone.contract_dilation is True and 'style' in cfg.model.backbone
    assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'
    with pytest.warns(DeprecationWarning, match='pretrained is deprecated'):
        model = seg_models.build(cfg.model)
    backbone = model.backbone
    assert type(backbone).__name__ == family
    assert backbone.pretrained == 'open-mmlab://resnet50_v1c'
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')
    check_neck_channels(model)


def test_segmentor_pretrained_loads_into_backbone(seg_models, tmp_path):
    """A model-level ``pretrained`` with backbone-only keys loads through ``backbone.pretrained``;
    a whole classifier checkpoint there (keys 'backbone.*') is an error, not a random init."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mmseg',
                                   'seresnet50-d8_pspnet_4xb4-160k_ade20k-512x512.py'))
    torch.manual_seed(1)
    donor = seg_models.build(cfg.model).backbone
    plain = tmp_path / 'backbone.pth'
    torch.save(donor.state_dict(), plain)
    classifier = tmp_path / 'classifier.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in donor.state_dict().items()}},
               classifier)

    cfg.model.backbone.init_cfg = None
    cfg.model.pretrained = str(plain)
    with pytest.warns(DeprecationWarning):
        model = seg_models.build(cfg.model)
    assert model.backbone.pretrained == str(plain)
    model.backbone.init_weights()
    for k, v in donor.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[k], v), k

    cfg.model.backbone.pretrained = None  # EncoderDecoder wrote it into the config dict
    cfg.model.pretrained = str(classifier)
    with pytest.warns(DeprecationWarning):
        model = seg_models.build(cfg.model)
    with pytest.raises(ValueError, match=r"no key of this model.*prefix='backbone\.'"):
        model.backbone.init_weights()


def test_head_in_channels_mismatch_names_both(seg_models):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mmseg',
                                   'resnext50-32x4d-d8_pspnet_4xb4-160k_ade20k-512x512.py'))
    cfg.model.decode_head.in_channels = 1024
    with pytest.raises(ValueError, match=r'decode_head PSPHead in_channels=1024.*backbone '
                       r'ResNeXt returns channels \[256, 512, 1024, 2048\]'
                       r'.*needs in_channels=2048'):
        check_neck_channels(seg_models.build(cfg.model))
