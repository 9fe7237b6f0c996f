"""Every config under configs/mmdet builds its detector with an mmresfam backbone.

Also covers the patterns a user relies on: mmdet base keys merged into our backbone without
``_delete_``, the neck/backbone channel check, and the Pretrained key check.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmresfam  # noqa: F401
from conftest import ROOT
from mmresfam.models.backbones.resnet import ResNet
from mmresfam.models.utils import check_neck_channels

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'mmdet', '*.py')))
# The list: Faster R-CNN for every family, Cascade and Mask R-CNN for ResNeSt-50.
EXPECTED = {
    'faster-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py': ('ResNeSt', 50),
    'faster-rcnn_s101_fpn_syncbn-backbone+head_ms-range-1x_coco.py': ('ResNeSt', 101),
    'cascade-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py': ('ResNeSt', 50),
    'mask-rcnn_s50_fpn_syncbn-backbone+head_ms-1x_coco.py': ('ResNeSt', 50),
    'faster-rcnn_resnetv2-50_fpn_syncbn_1x_coco.py': ('ResNetV2', 50),
    'faster-rcnn_resnext50-32x4d_fpn_syncbn_1x_coco.py': ('ResNeXt', 50),
    'faster-rcnn_seresnet50_fpn_syncbn_1x_coco.py': ('SEResNet', 50),
    'faster-rcnn_seresnext50-32x4d_fpn_syncbn_1x_coco.py': ('SEResNeXt', 50),
    'faster-rcnn_sknet50_fpn_syncbn_1x_coco.py': ('SKNet', 50),
    'faster-rcnn_scnet50_fpn_syncbn_1x_coco.py': ('SCNet', 50),
    'faster-rcnn_attention56_fpn_syncbn_1x_coco.py': ('ResidualAttentionNet', None),
    'faster-rcnn_cbam-resnet50_fpn_syncbn_1x_coco.py': ('ResNet', 50),
    'faster-rcnn_resnet50_fpn_syncbn_1x_coco.py': ('ResNet', 50),
    # deformable convs in stages 3-5 (issue 13)
    'faster-rcnn_resnet50-dconv-c3-c5_fpn_syncbn_1x_coco.py': ('ResNet', 50),
    'faster-rcnn_resnext50-32x4d-dconv-c3-c5_fpn_syncbn_1x_coco.py': ('ResNeXt', 50),
    'faster-rcnn_s50-dconv-c3-c5_fpn_syncbn-backbone+head_ms-range-1x_coco.py': ('ResNeSt', 50),
}


@pytest.fixture(scope='module')
def det_models():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return MODELS


def test_every_expected_config_exists():
    names = {osp.basename(p) for p in CONFIGS}
    assert set(EXPECTED) <= names, sorted(set(EXPECTED) - names)
    assert names <= set(EXPECTED), f'config without an entry in EXPECTED: {names - set(EXPECTED)}'


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_detector(path, det_models):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdet'
    bb_cfg = cfg.model.backbone
    name, depth = EXPECTED[osp.basename(path)]
    assert bb_cfg.type == f'mmresfam.{name}'
    # `_delete_=True` kept mmdet's ResNet keys out
    assert not {'style', 'num_stages', 'avg_down_stride'} & set(bb_cfg)
    assert bb_cfg.norm_cfg.type == 'SyncBN' and bb_cfg.frozen_stages == 1
    # mmdet's ResNeSt recipe trains BN (norm_eval=False); its ResNet/ResNeXt 1x recipe freezes it
    assert bb_cfg.norm_eval is (name != 'ResNeSt')
    assert bb_cfg.init_cfg.type == 'Pretrained' and bb_cfg.init_cfg.prefix == 'backbone.'

    model = det_models.build(cfg.model)
    backbone = model.backbone
    assert type(backbone).__module__.startswith('mmresfam.')
    assert type(backbone).__name__ == name
    if depth is not None:
        assert backbone.depth == depth
    check_neck_channels(model)  # FPN in_channels == backbone channels
    assert list(cfg.model.neck.in_channels) == backbone.out_channels
    # frozen stem + stage 1: no gradients there, BN in eval mode even in train()
    model.train()
    frozen = backbone.stem if getattr(backbone, 'deep_stem', False) else backbone.conv1
    assert not any(p.requires_grad for p in frozen.parameters())
    assert not any(p.requires_grad for p in backbone.layer1.parameters())
    assert any(p.requires_grad for p in backbone.layer2.parameters())
    assert not backbone.layer1.training
    if name == 'ResNeSt':
        assert backbone.layer2.training
    # the four FPN inputs have the advertised channels and strides 4..32 (mmcv's CPU DCN
    # refuses a map smaller than its kernel: 128 px keeps layer4 at 4x4 for the dconv configs)
    backbone.eval()
    size = 128 if 'dconv' in path else 64
    with torch.no_grad():
        outs = backbone(torch.rand(1, 3, size, size))
    assert [o.shape[1] for o in outs] == backbone.out_channels
    assert [o.shape[-1] for o in outs] == [size // 4, size // 8, size // 16, size // 32]


@pytest.mark.parametrize('family,extra', [
    ('ResNeSt', dict(stem_channels=64)),
    ('SEResNeXt', dict(groups=32, width_per_group=4)),
    ('SKNet', {}),
])
def test_inherit_mmdet_base_without_delete(family, extra, det_models, tmp_path):
    """The one-line swap: mmdet's base backbone keys (style, num_stages, norm_eval, a
    torchvision init_cfg) are merged into ours and accepted."""
    path = tmp_path / 'swap.py'
    path.write_text("_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'\n"
                    f"model = dict(backbone=dict(type='mmresfam.{family}', **{extra!r}))\n")
    cfg = Config.fromfile(str(path))
    assert {'style', 'num_stages', 'norm_eval', 'init_cfg'} <= set(cfg.model.backbone)
    model = det_models.build(cfg.model)
    assert type(model.backbone).__name__ == family
    assert model.backbone.norm_eval is True and model.backbone.frozen_stages == 1
    check_neck_channels(model)


def test_neck_in_channels_mismatch_names_both(det_models):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mmdet',
                                   'faster-rcnn_cbam-resnet50_fpn_syncbn_1x_coco.py'))
    cfg.model.backbone.depth = 18  # 64..512 channels, neck still expects 256..2048
    cfg.model.backbone.plugins = None  # BasicBlock has no after_conv3
    model = det_models.build(cfg.model)
    with pytest.raises(ValueError, match=r'neck FPN in_channels=\[256, 512, 1024, 2048\].*'
                       r'backbone ResNet returns channels \[64, 128, 256, 512\]'):
        check_neck_channels(model)
    # out_indices are taken into account
    cfg.model.backbone.out_indices = (1, 2, 3)
    cfg.model.neck.in_channels = [128, 256, 512]
    check_neck_channels(det_models.build(cfg.model))


def test_neck_mismatch_fails_in_train_tool_before_training(tmp_path):
    from conftest import run_tool
    proc = run_tool('tools/train.py', 'configs/mmdet/faster-rcnn_seresnet50_fpn_syncbn_1x_coco.py',
                    '--work-dir', str(tmp_path), '--cfg-options',
                    'model.neck.in_channels=[256,512,1024,1024]',
                    'train_dataloader.dataset.data_root=/nonexistent/')
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert 'in_channels=[256, 512, 1024, 1024]' in last and 'SEResNet' in last, last
    assert '[256, 512, 1024, 2048]' in last, last


def _save(obj, path):
    torch.save(obj, path)
    return str(path)


def test_pretrained_without_matching_keys_is_an_error(tmp_path):
    src = ResNet(depth=18, out_indices=(0, 1, 2, 3))
    classifier = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    ckpt = _save({'state_dict': classifier, 'meta': {}}, tmp_path / 'cls.pth')

    # the classifier checkpoint without prefix: nothing would load -> error with a hint
    model = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    with pytest.raises(ValueError, match=r"no key of this model.*prefix='backbone\.'"):
        model.init_weights()
    # a prefix that is not in the checkpoint
    model = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=ckpt, prefix='neck.'))
    with pytest.raises(ValueError, match="no key starting with prefix='neck.'"):
        model.init_weights()
    # another architecture entirely
    other = _save({'fc.weight': torch.zeros(2, 2)}, tmp_path / 'other.pth')
    model = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=other))
    with pytest.raises(ValueError, match='no key of this model'):
        model.init_weights()
    # the right prefix loads every weight
    model = ResNet(depth=18, out_indices=(0, 1, 2, 3),
                   init_cfg=dict(type='Pretrained', checkpoint=ckpt, prefix='backbone.'))
    model.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    # extra keys only (e.g. a different head) is mmpretrain's behaviour: loads what matches
    partial = dict(src.state_dict(), **{'extra.weight': torch.zeros(1)})
    ckpt2 = _save(partial, tmp_path / 'partial.pth')
    model = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=ckpt2))
    model.init_weights()
    assert torch.equal(model.conv1.weight, src.conv1.weight)
    # a key missing while another is unexpected would leave a layer random (issue 16): refused
    partial.pop('layer4.1.conv2.weight')
    ckpt3 = _save(partial, tmp_path / 'renamed.pth')
    model = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=ckpt3))
    with pytest.raises(ValueError, match='1 missing, 1 unexpected'):
        model.init_weights()
