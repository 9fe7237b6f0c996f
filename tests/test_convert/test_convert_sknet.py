"""mmresfam.convert.sknet: timm skresnet18/34 and skresnext50_32x4d -> mmresfam.SKNet conversion (random weights)."""
import pytest
import torch
import torch.nn.functional as F

from mmresfam.registry import MODELS

timm = pytest.importorskip('timm')
from analysis._lib.references import randomize_norms_  # noqa: E402
from mmresfam.convert.sknet import convert, infer_backbone_cfg  # noqa: E402

CFGS = {
    'skresnet18': dict(type='mmresfam.SKNet', depth=18, reduction=8, min_channels=16,
                       split_input=True),
    'skresnet34': dict(type='mmresfam.SKNet', depth=34, reduction=8, min_channels=16,
                       split_input=True),
    'skresnext50_32x4d': dict(type='mmresfam.SKNet', depth=50),
    'skresnet50': dict(type='mmresfam.SKNet', depth=50, groups=1, width_per_group=64,
                       split_input=True, min_channels=8),
}


def _random_timm(name):
    """A randomly initialised timm model with random BN statistics and affine parameters
    (so that swapping two BNs in the mapping would change the features)."""
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    randomize_norms_(model, seed=1)
    return model.eval()


@pytest.mark.parametrize('name', list(CFGS))
def test_converted_features_match_timm(name):
    ref = _random_timm(name)
    converted = convert(ref.state_dict())
    # timm's layout: same kernels, so fp32 agrees to 1e-4 (layouts: test_resnet.py, float64)
    backbone = MODELS.build(dict(CFGS[name], out_indices=(0, 1, 2, 3), channels_last=False))
    backbone.eval()
    state = {k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')}
    backbone.load_state_dict(state, strict=True)
    assert set(converted) - {f'backbone.{k}' for k in state} == {'head.fc.weight',
                                                                  'head.fc.bias'}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = ref.forward_intermediates(x, intermediates_only=True)[1:]
        ours = backbone(x)
        logits_ref = ref(x)
        logits = F.linear(ours[-1].mean((2, 3)), converted['head.fc.weight'],
                          converted['head.fc.bias'])
    for a, b in zip(expected, ours):
        assert a.shape == b.shape
        assert (a - b).abs().max() < 1e-4
    assert (logits - logits_ref).abs().max() < 1e-4


@pytest.mark.parametrize('name', list(CFGS))
def test_infer_backbone_cfg(name):
    sd = timm.create_model(name, pretrained=False).state_dict()
    cfg = infer_backbone_cfg(sd)
    expected = dict(CFGS[name])
    for key, value in expected.items():
        assert cfg[key] == value, key
    if name.startswith('skresnext'):
        assert (cfg['groups'], cfg['width_per_group'], cfg['reduction'],
                cfg['min_channels']) == (32, 4, 16, 32)


def test_unrecognised_state_dicts():
    resnet = timm.create_model('resnet18', pretrained=False).state_dict()
    with pytest.raises(ValueError, match='unrecognised state_dict: expected a timm skresnet18'):
        convert(resnet)
    sk = timm.create_model('skresnet18', pretrained=False).state_dict()
    sk['layer1.0.se.fc.weight'] = torch.zeros(1)
    sk['extra.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match=r'2 keys have no mapping .*layer1.0.se.fc.weight'):
        convert(sk)
