"""Our attention modules as ``plugins`` of MMDetection's own ``ResNet`` and of ``mmresfam.ResNet``.

The plugin format is MMDetection's:
``dict(cfg=dict(type='mmresfam.CBAM'), stages=(False, True, True, True), position='after_conv3')``.
"""
import pytest
import torch
from mmdet.models.backbones import ResNet as MMDetResNet
from mmdet.registry import MODELS as MMDET_MODELS

import mmresfam.models  # noqa: F401  (registers the modules)
from mmresfam.models.attentions import CBAM, SGE, DoubleAttention, scSE
from mmresfam.registry import MODELS

MODULES = {
    'CBAM': (CBAM, dict(type='mmresfam.CBAM'), 'cbam'),
    'SGE': (SGE, dict(type='mmresfam.SGE'), 'sge'),
    'scSE': (scSE, dict(type='mmresfam.scSE'), 'scse'),
    'DoubleAttention': (DoubleAttention, dict(type='mmresfam.DoubleAttention'), 'a2'),
}
STAGES = (False, True, True, True)
# a ResNet-50 layout at 1/4 width: stage outputs 64/128/256/512, fast on CPU
SMALL = dict(depth=50, base_channels=16, out_indices=(0, 1, 2, 3))


def _plugins(cfg, position='after_conv3'):
    return [dict(cfg=cfg, stages=STAGES, position=position)]


def _mmdet_resnet(plugins, **kwargs):
    return MMDET_MODELS.build(dict(type='ResNet', plugins=plugins, norm_eval=False, **SMALL,
                                   **kwargs))


def _our_resnet(plugins, **kwargs):
    return MODELS.build(dict(type='mmresfam.ResNet', plugins=plugins, stem_channels=16,
                             **SMALL, **kwargs))


@pytest.mark.parametrize('name', list(MODULES))
def test_module_as_mmdet_resnet_plugin(name):
    cls, cfg, abbr = MODULES[name]
    torch.manual_seed(0)
    # zero_init_residual=False: with mmdet's default the input of an after_conv3 plugin (the
    # zeroed norm3) is 0 at init and its parameters get no gradient
    model = _mmdet_resnet(_plugins(cfg), zero_init_residual=False)
    assert isinstance(model, MMDetResNet)
    for i, layer in enumerate([model.layer1, model.layer2, model.layer3, model.layer4]):
        for block in layer:
            if STAGES[i]:
                assert block.after_conv3_plugin_names == [abbr]
                plugin = getattr(block, abbr)
                assert isinstance(plugin, cls) and plugin.in_channels == block.conv3.out_channels
            else:
                assert not hasattr(block, abbr)
    model.init_weights()
    model.train()
    x = torch.randn(2, 3, 32, 32)
    outs = model(x)
    assert [tuple(o.shape) for o in outs] == [(2, 64, 8, 8), (2, 128, 4, 4), (2, 256, 2, 2),
                                              (2, 512, 1, 1)]
    outs[-1].sum().backward()
    plugin = getattr(model.layer4[0], abbr)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in plugin.parameters())


@pytest.mark.parametrize('name', list(MODULES))
def test_same_plugin_same_output_in_mmdet_and_our_resnet(name):
    """Same plugin, same module names: mmdet's state_dict loads strictly into ours and both
    compute the same thing."""
    _, cfg, abbr = MODULES[name]
    torch.manual_seed(0)
    theirs = _mmdet_resnet(_plugins(cfg))
    theirs.init_weights()
    for m in theirs.modules():  # non-trivial values everywhere, zero-initialised ones included
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
        if isinstance(m, SGE):
            m.weight.data.normal_()
    # MMDetection's layout, so both run the same kernels: with these weights the activations
    # reach 1e5 and fp32 rounding differs between layouts by more than the tolerance (the
    # layouts are compared in float64 in test_resnet.py)
    ours = _our_resnet(_plugins(cfg), channels_last=False)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert ours.layer4[0].plugin_names['after_conv3'] == [abbr]
    theirs.eval()
    ours.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(theirs(x), ours(x)):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('position', ['after_conv1', 'after_conv2', 'after_conv3'])
def test_plugin_positions_in_our_resnet(position):
    model = _our_resnet(_plugins(dict(type='mmresfam.scSE', reduction=4), position))
    block = model.layer2[0]
    plugin = getattr(block, 'scse')
    expected = {'after_conv1': block.mid_channels, 'after_conv2': block.mid_channels,
                'after_conv3': block.out_channels}[position]
    assert plugin.in_channels == expected
    assert not any('scse' in n for n, _ in model.layer1.named_modules())
    outs = model(torch.randn(2, 3, 32, 32))
    assert outs[-1].shape == (2, 512, 1, 1)


def test_a2_plugin_starts_as_identity_in_both_resnets():
    """A zero-initialised A2 block leaves the backbone's output unchanged, after init_weights
    of mmdet's ResNet (Kaiming + constant BN init) too."""
    torch.manual_seed(0)
    plain = _mmdet_resnet(None)
    plain.init_weights()
    plain.eval()
    with_a2 = _mmdet_resnet(_plugins(dict(type='mmresfam.DoubleAttention')))
    with_a2.init_weights()
    missing, _ = with_a2.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all('.a2.' in k for k in missing)
    with_a2.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(plain(x), with_a2(x)):
            torch.testing.assert_close(a, b)
    ours = _our_resnet(_plugins(dict(type='mmresfam.DoubleAttention')))
    ours.init_weights()
    a2 = ours.layer4[0].a2
    assert a2.reconstruct.bn.weight.abs().sum() == 0


def test_a2_only_in_last_stages():
    """The A2-Nets layout: blocks only in stages 3-4 (as in our a2-resnet50 config)."""
    model = _our_resnet([dict(cfg=dict(type='mmresfam.DoubleAttention'),
                              stages=(False, False, True, True), position='after_conv3')])
    counts = [sum(isinstance(m, DoubleAttention) for m in layer.modules())
              for layer in (model.layer1, model.layer2, model.layer3, model.layer4)]
    assert counts == [0, 0, 6, 3]


def test_two_plugins_at_one_position_in_order():
    model = _our_resnet([
        dict(cfg=dict(type='mmresfam.SGE', groups=8), position='after_conv3'),
        dict(cfg=dict(type='mmresfam.CBAM'), position='after_conv3'),
    ])
    block = model.layer1[0]
    assert block.plugin_names['after_conv3'] == ['sge', 'cbam']
