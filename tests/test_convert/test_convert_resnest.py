"""mmresfam.convert.resnest on randomly initialised timm models (nothing is downloaded):
converted weights load strictly into ``mmresfam.ResNeSt`` and give timm's ``forward_features``
(and logits)."""
import pytest
import torch

from analysis._lib.references import randomize_norms_
from mmresfam.convert.resnest import convert, infer_backbone_cfg
from mmresfam.registry import MODELS

timm = pytest.importorskip('timm')


def _timm(name):
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    randomize_norms_(model)  # zero-init last BNs would hide the residual branches
    model.eval()
    return model


def _ours(state_dict, **cfg_overrides):
    converted = convert(state_dict)
    cfg = dict(infer_backbone_cfg(state_dict, cfg_overrides.pop('avd_first', False)),
               **dict(dict(out_indices=(3, )), **cfg_overrides))
    backbone = MODELS.build(cfg)
    backbone.load_state_dict(
        {k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')},
        strict=True)
    backbone.eval()
    return backbone, converted


def _assert_features_equal(a, b, tol=1e-4):
    # tolerance relative to the feature scale (random BNs make deep features large)
    scale = max(1.0, float(a.abs().max()))
    assert float((a - b).abs().max()) / scale < tol


@pytest.mark.parametrize('name,expected', [
    ('resnest50d', dict(depth=50, stem_channels=64, radix=2, groups=1)),
    ('resnest101e', dict(depth=101, stem_channels=128, radix=2, groups=1)),
    ('resnest26d', dict(depth=26, stem_channels=64, radix=2, groups=1)),
])
def test_timm_features_equal_after_conversion(name, expected):
    model = _timm(name)
    ours, converted = _ours(model.state_dict())
    cfg = infer_backbone_cfg(model.state_dict())
    assert {k: cfg[k] for k in expected} == expected
    assert ours.stem[2].conv.out_channels == expected['stem_channels']
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        _assert_features_equal(model.forward_features(x), ours(x)[0])
    assert 'head.fc.weight' in converted and 'backbone.stem.2.bn.weight' in converted
    assert 'backbone.layer1.0.downsample.0.weight' in converted  # re-indexed shortcut
    assert 'backbone.layer2.0.downsample.1.weight' in converted


def test_fast_variant_with_avd_first():
    model = _timm('resnest50d_4s2x40d')
    cfg = infer_backbone_cfg(model.state_dict(), avd_first=True)
    assert cfg == dict(type='mmresfam.ResNeSt', depth=50, stem_channels=64, radix=4,
                       groups=2, base_width=40, reduction_factor=4, avd_first=True)
    ours, _ = _ours(model.state_dict(), avd_first=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        _assert_features_equal(model.forward_features(x), ours(x)[0])


def test_whole_classifier_logits():
    from mmengine.registry import DefaultScope
    from mmpretrain.models import ImageClassifier
    model = _timm('resnest14d')
    converted = convert(model.state_dict())
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        clf = ImageClassifier(
            backbone=dict(type='mmresfam.ResNeSt', depth=14),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048))
    clf.load_state_dict(converted, strict=True)
    clf.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        _assert_features_equal(model(x), clf(x, mode='tensor'))


@pytest.mark.parametrize('depth,stem', [(50, 64), (101, 128)])
def test_mmdet_resnest_weights(depth, stem):
    """MMDetection's ResNeSt (``open-mmlab://resnest*`` layout: flat ``stem.0..7``, a pool at
    index 0 of every shortcut) converts too."""
    from mmdet.models.backbones import ResNeSt as MMDetResNeSt
    torch.manual_seed(0)
    ref = MMDetResNeSt(depth=depth, stem_channels=stem, norm_eval=False)
    randomize_norms_(ref)
    ref.eval()
    cfg = infer_backbone_cfg(ref.state_dict())
    assert (cfg['depth'], cfg['stem_channels']) == (depth, stem)
    ours, converted = _ours(ref.state_dict(), out_indices=(0, 1, 2, 3))
    assert not any(k.startswith('head.') for k in converted)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ref(x), ours(x)):
            _assert_features_equal(a, b)


def test_larger_layouts_convert_by_keys():
    """resnest200e/269e: keys convert and load strictly (not run: too big for a unit test)."""
    for name, depth in (('resnest200e', 200), ('resnest269e', 269)):
        sd = timm.create_model(name, pretrained=False).state_dict()
        cfg = infer_backbone_cfg(sd)
        assert (cfg['depth'], cfg['stem_channels']) == (depth, 128)
        backbone = MODELS.build(cfg)
        missing = backbone.load_state_dict(
            {k[9:]: v for k, v in convert(sd).items() if k.startswith('backbone.')},
            strict=True)
        assert not missing.missing_keys and not missing.unexpected_keys


def test_unrecognised_state_dicts_are_refused():
    resnet = timm.create_model('resnet18', pretrained=False).state_dict()
    with pytest.raises(ValueError, match='unrecognised state_dict: expected a timm resnest'):
        convert(resnet)
    sd = dict(_timm('resnest14d').state_dict())
    sd['layer1.0.se.fc1.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"1 keys have no mapping.*layer1\.0\.se\.fc1"):
        convert(sd)
    del sd['layer1.0.se.fc1.weight']
    sd['layer1.5.conv1.weight'] = sd.pop('layer1.0.conv1.weight')
    with pytest.raises(ValueError, match='match no ResNeSt depth'):
        infer_backbone_cfg(sd)
