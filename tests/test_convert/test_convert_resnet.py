"""mmresfam.convert.resnet on randomly initialised timm and torchvision models."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

import mmresfam  # noqa: F401
from mmresfam.convert.resnet import convert, detect, infer_backbone_cfg
from mmresfam.registry import MODELS


def _randomised_timm(name):
    """A randomly initialised timm model with non-trivial BN affine params and statistics
    (timm zero-initialises the last BN of each block, which would hide mapping mistakes)."""
    import timm
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def _backbone_from(converted, cfg):
    # timm's layout: same kernels, so fp32 agrees to 1e-4 (layouts: test_resnet.py, float64)
    backbone = MODELS.build(dict(cfg, channels_last=False))
    backbone.load_state_dict({k[len('backbone.'):]: v for k, v in converted.items()
                              if k.startswith('backbone.')}, strict=True)
    backbone.eval()   # (mmpretrain's ResNet.train() returns None, so no chaining)
    return backbone


@pytest.mark.parametrize('name, expected_cfg', [
    ('resnext50_32x4d', dict(type='mmresfam.ResNeXt', depth=50, groups=32, width_per_group=4)),
    ('seresnet50', dict(type='mmresfam.SEResNet', depth=50, se_ratio=16)),
    ('seresnext50_32x4d', dict(type='mmresfam.SEResNeXt', depth=50, groups=32,
                               width_per_group=4, se_ratio=16)),
    ('resnet50', dict(type='mmresfam.ResNet', depth=50)),
    ('resnet18', dict(type='mmresfam.ResNet', depth=18)),
    # deep stem + average-pool shortcut (timm 'd' variants)
    ('seresnext26d_32x4d', dict(type='mmresfam.SEResNeXt', depth=26, groups=32,
                                width_per_group=4, se_ratio=16, deep_stem=True,
                                avg_down=True)),
])
def test_converted_features_match_timm(name, expected_cfg):
    model = _randomised_timm(name)
    sd = model.state_dict()
    assert infer_backbone_cfg(sd) == expected_cfg
    converted = convert(sd)
    assert len(converted) == len(sd)
    assert converted['head.fc.weight'] is sd['fc.weight']
    backbone = _backbone_from(converted, expected_cfg)
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        ref = model.forward_features(x)
        ours = backbone(x)[-1]
    assert ref.abs().max() > 0.1
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_converted_classifier_logits_match_timm():
    model = _randomised_timm('seresnext50_32x4d')
    converted = convert(model.state_dict())
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    classifier = PRETRAIN_MODELS.build(dict(
        type='ImageClassifier', backbone=infer_backbone_cfg(model.state_dict()),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048)))
    classifier.load_state_dict(converted, strict=True)
    classifier.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(classifier(x, mode='tensor'), model(x), atol=1e-4,
                                   rtol=1e-4)


def test_se_keys_are_renamed():
    converted = convert(_randomised_timm('seresnet50').state_dict())
    assert 'backbone.layer3.5.se_layer.conv1.conv.weight' in converted
    assert 'backbone.layer3.5.se_layer.conv2.conv.bias' in converted
    assert not any('.se.' in k for k in converted)


def test_torchvision_resnet50():
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    cfg = infer_backbone_cfg(model.state_dict())
    assert cfg == dict(type='mmresfam.ResNet', depth=50)
    backbone = _backbone_from(convert(model.state_dict()), cfg)
    x = torch.randn(1, 3, 64, 64)
    body = torch.nn.Sequential(*list(model.children())[:-2])
    with torch.no_grad():
        torch.testing.assert_close(backbone(x)[-1], body(x), atol=1e-4, rtol=1e-4)


def test_detect():
    assert detect(_randomised_timm('resnet18').state_dict()) == dict(
        stem='plain', block='basic', se=False, avg_down=False)


@pytest.mark.parametrize('name, match', [
    ('ecaresnet50d', r"keys have no mapping .*layer1\.0\.se\.conv\.weight"),   # ECA, not SE
    ('resnet26', 'depth 26 is not an mmresfam.ResNet depth'),
    ('seresnet18', r'SE basic blocks \(seresnet18/34\) have no mmresfam class'),
])
def test_unsupported_timm_models(name, match):
    sd = _randomised_timm(name).state_dict()
    with pytest.raises(ValueError, match=match):
        convert(sd)
        infer_backbone_cfg(sd)


@pytest.mark.parametrize('sd, match', [
    ({'foo.weight': torch.zeros(1)}, r"unrecognised state_dict: no ResNet stem .*expected a "
                                     r"timm/torchvision ResNet.*first keys found: "
                                     r"\['foo.weight'\]"),
    ({'conv1.weight': torch.zeros(1), 'bn1.weight': torch.zeros(1)},
     r'unrecognised state_dict: no bn1 / layer1.0.conv1'),
])
def test_unrecognised_state_dict(sd, match):
    with pytest.raises(ValueError, match=match):
        convert(sd)


def test_skresnet_state_dict_is_rejected():
    sd = _randomised_timm('skresnet18').state_dict()
    with pytest.raises(ValueError, match=r'timm SK-ResNet/SKNet state_dict: convert it with '
                       r'tools/model_converters/timm_sknet_to_mmresfam.py'):
        convert(sd)
