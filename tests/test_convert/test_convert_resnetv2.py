"""mmresfam.convert.resnetv2: timm resnetv2_18/50 -> mmresfam.ResNetV2 conversion (randomly
initialised timm models)."""
import pytest
import torch
import torch.nn.functional as F

from mmresfam.registry import MODELS

timm = pytest.importorskip('timm')
from analysis._lib.references import randomize_norms_  # noqa: E402
from mmresfam.convert.resnetv2 import convert, infer_backbone_cfg  # noqa: E402


def _random_timm(name):
    """A randomly initialised timm model with random BN statistics and affine parameters
    (so that swapping two norms in the mapping would change the features)."""
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    randomize_norms_(model, seed=1)
    model.eval()
    return model


@pytest.mark.parametrize('name, depth', [('resnetv2_50', 50), ('resnetv2_18', 18)])
def test_converted_features_match_timm(name, depth):
    ref = _random_timm(name)
    converted = convert(ref.state_dict())
    assert infer_backbone_cfg(ref.state_dict()) == dict(type='mmresfam.ResNetV2', depth=depth,
                                                        stem_channels=64)
    # timm's layout: same kernels, so fp32 agrees to 1e-4 (layouts: test_resnet.py, float64)
    backbone = MODELS.build(dict(type='mmresfam.ResNetV2', depth=depth, channels_last=False))
    backbone.eval()
    state = {k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')}
    backbone.load_state_dict(state, strict=True)
    assert set(converted) - {f'backbone.{k}' for k in state} == {'head.fc.weight',
                                                                  'head.fc.bias'}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = ref.forward_features(x)
        ours = backbone(x)[-1]
        logits_ref = ref(x)
        logits = F.linear(ours.mean((2, 3)), converted['head.fc.weight'],
                          converted['head.fc.bias'])
    assert expected.shape == ours.shape
    assert (expected - ours).abs().max() < 1e-4
    assert (logits - logits_ref).abs().max() < 1e-4


def test_unrecognised_state_dicts():
    resnet = timm.create_model('resnet18', pretrained=False).state_dict()
    with pytest.raises(ValueError, match='unrecognised state_dict: expected a timm resnetv2'):
        convert(resnet)
    bit = {'stem.conv.weight': torch.zeros(1), 'norm.weight': torch.zeros(1),
           'norm.bias': torch.zeros(1)}
    with pytest.raises(ValueError, match='GroupNorm BiT'):
        convert(bit)
    extra = dict(timm.create_model('resnetv2_18', pretrained=False).state_dict())
    extra['stages.0.blocks.0.se.fc.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"1 keys have no mapping.*se\.fc\.weight"):
        convert(extra)
