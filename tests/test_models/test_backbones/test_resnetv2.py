"""Tests of ``mmresfam.ResNetV2`` (pre-activation ResNet) and its pre-activation units."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from mmresfam.models.backbones.resnet import BasicBlock, Bottleneck, ResLayer, ResNet
from mmresfam.models.backbones.resnetv2 import (PreActBasicBlock, PreActBottleneck, ResNetV2,
                                               strip_projection_norm)
from mmresfam.registry import MODELS
from test_models._helpers import assert_frozen_stages, assert_stage_shapes


def _params(module):
    return sum(p.numel() for p in module.parameters())


def _randomise_norms(model, seed=0):
    """Random BN statistics and affine parameters, so that a misplaced norm changes outputs."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return model


def test_registered_and_subclasses():
    assert MODELS.get('mmresfam.ResNetV2') is ResNetV2
    assert issubclass(ResNetV2, ResNet)
    assert issubclass(PreActBottleneck, Bottleneck) and issubclass(PreActBasicBlock, BasicBlock)


def test_resnetv2_50_params_match_paper_and_timm():
    net = ResNetV2(depth=50)
    assert abs(_params(net) - 23.5e6) / 23.5e6 < 0.005
    timm = pytest.importorskip('timm')
    ref = timm.create_model('resnetv2_50', pretrained=False)
    assert _params(net) == _params(ref) - _params(ref.head)


@pytest.mark.parametrize('depth', [18, 34, 50, 101, 152, 200])
def test_all_depths_build(depth):
    net = ResNetV2(depth=depth)
    block = PreActBasicBlock if depth < 50 else PreActBottleneck
    assert all(isinstance(b, block) for layer in (net.layer1, net.layer4) for b in layer)
    assert net.out_channels[-1] == (512 if depth < 50 else 2048)


def test_bad_depth():
    with pytest.raises(KeyError, match=r'depth=26.*\[18, 34, 50, 101, 152, 200\]'):
        ResNetV2(depth=26)


@pytest.mark.parametrize('depth, channels', [(18, [64, 128, 256, 512]),
                                             (50, [256, 512, 1024, 2048])])
def test_shapes_every_out_index_are_normalised(depth, channels):
    model = ResNetV2(depth=depth, out_indices=(0, 1, 2, 3))
    outs = assert_stage_shapes(model, channels, size=64)
    assert all((o >= 0).all() for o in outs)              # every output went through BN-ReLU
    for i in range(4):
        assert isinstance(getattr(model, f'out_norm{i + 1}'), nn.BatchNorm2d)


def test_output_norm_is_a_side_branch():
    """out_norm{i} normalises the returned map; the trunk continues with the raw sum."""
    model = _randomise_norms(ResNetV2(depth=18, out_indices=(1, 3)))
    model.eval()
    assert not hasattr(model, 'out_norm1') and not hasattr(model, 'out_norm3')
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        raw = model.layer2(model.layer1(model.forward_stem(x)))
        out2, out4 = model(x)
        torch.testing.assert_close(out2, F.relu(model.out_norm2(raw)))
        torch.testing.assert_close(
            out4, F.relu(model.out_norm4(model.layer4(model.layer3(raw)))))


def test_default_stem_has_no_norm_and_fb_stem_has_one():
    bit = ResNetV2(depth=18)
    assert isinstance(bit.norm1, nn.Identity) and isinstance(bit.relu, nn.Identity)
    fb = ResNetV2(depth=18, stem_norm=True)
    assert isinstance(fb.norm1, nn.BatchNorm2d)
    assert _params(fb) - _params(bit) == 2 * 64
    fb.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = fb.maxpool(F.relu(fb.norm1(fb.conv1(x))))
        torch.testing.assert_close(fb.forward_stem(x), expected)
    deep = ResNetV2(depth=18, deep_stem=True)
    deep.eval()
    assert deep(x)[-1].shape == (1, 512, 1, 1)


def test_bottleneck_preactivation_forward():
    """Norms before convs, projection on the pre-activated input, nothing after the sum."""
    torch.manual_seed(0)
    down = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False))
    blk = _randomise_norms(PreActBottleneck(16, 32, stride=2, downsample=down))
    blk.eval()
    assert blk.norm1.num_features == 16 and blk.norm2.num_features == 8
    assert blk.norm3.num_features == 8
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        a = F.relu(blk.norm1(x))
        out = blk.conv1(a)
        out = blk.conv2(F.relu(blk.norm2(out)))
        out = blk.conv3(F.relu(blk.norm3(out)))
        expected = out + blk.downsample(a)
        torch.testing.assert_close(blk(x), expected)
    assert (expected < 0).any()                            # no ReLU after the addition


def test_basic_block_preactivation_forward():
    blk = _randomise_norms(PreActBasicBlock(8, 8))
    blk.eval()
    assert blk.norm1.num_features == 8
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        out = blk.conv1(F.relu(blk.norm1(x)))
        out = blk.conv2(F.relu(blk.norm2(out)))
        torch.testing.assert_close(blk(x), out + x)


def test_projection_shortcut_has_no_norm():
    net = ResNetV2(depth=50)
    for name in ('layer1', 'layer2', 'layer3', 'layer4'):
        down = getattr(net, name)[0].downsample
        assert len(down) == 1 and isinstance(down[0], nn.Conv2d)
    avg = ResNetV2(depth=50, avg_down=True)
    assert [type(m) for m in avg.layer2[0].downsample] == [nn.AvgPool2d, nn.Conv2d]


@pytest.mark.parametrize('block, in_ch, out_ch, stride', [
    (PreActBottleneck, 16, 16, 1), (PreActBottleneck, 16, 32, 2), (PreActBasicBlock, 8, 16, 2)])
def test_drop_path_one_returns_only_the_shortcut(block, in_ch, out_ch, stride):
    layer = strip_projection_norm(ResLayer(block, 1, in_ch, out_ch, stride=stride,
                                           drop_path_rate=1.0))
    blk = layer[0]
    blk.train()
    x = torch.randn(2, in_ch, 8, 8)
    expected = x if blk.downsample is None else blk.downsample(F.relu(blk.norm1(x)))
    torch.testing.assert_close(blk(x), expected)
    blk.with_cp = True                                     # the checkpointed path too
    torch.testing.assert_close(blk(x.requires_grad_(True)), expected)


def test_drop_path_rate_in_backbone():
    net = ResNetV2(depth=18, drop_path_rate=0.2)
    assert net.layer4[-1].drop_path.drop_prob == pytest.approx(0.2)


def test_with_cp_same_outputs_and_grads():
    torch.manual_seed(0)
    ref = ResNetV2(depth=18, out_indices=(0, 1, 2, 3))
    cp_model = ResNetV2(depth=18, out_indices=(0, 1, 2, 3), with_cp=True)
    cp_model.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 32, 32)
    outs_ref, outs_cp = ref(x), cp_model(x)
    for a, b in zip(outs_ref, outs_cp):
        torch.testing.assert_close(a, b)
    sum(o.sum() for o in outs_ref).backward()
    sum(o.sum() for o in outs_cp).backward()
    for (n, p), q in zip(ref.named_parameters(), cp_model.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n, atol=1e-5, rtol=1e-4)


def test_train_mode_gradients_reach_every_parameter():
    model = ResNetV2(depth=18, out_indices=(0, 1, 2, 3), zero_init_residual=False)
    model.init_weights()
    model.train()
    outs = model(torch.randn(2, 3, 32, 32))
    sum(o.mean() for o in outs).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing


@pytest.mark.parametrize('depth,last', [(18, ('norm2', 'conv2')), (50, ('norm3', 'conv3'))])
def test_zero_init_residual_makes_units_identity(depth, last):
    model = ResNetV2(depth=depth)
    model.init_weights()
    blk = model.layer1[1]
    norm, conv = (getattr(blk, name) for name in last)
    assert conv.weight.abs().sum() == 0
    assert torch.equal(norm.weight, torch.ones_like(norm.weight))
    blk.eval()
    x = torch.randn(1, blk.in_channels, 4, 4)
    torch.testing.assert_close(blk(x), x)


@pytest.mark.parametrize('depth', [18, 50])
def test_zero_init_residual_units_still_train(depth):
    """With the default zero_init_residual every parameter gets a gradient from the second
    step on (zeroing the norm before the last ReLU instead would leave every residual branch
    dead: the ReLU passes no gradient at 0)."""
    torch.manual_seed(0)
    model = ResNetV2(depth=depth, base_channels=8, stem_channels=8, out_indices=(0, 1, 2, 3))
    model.init_weights()
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, 3, 64, 64)
    for _ in range(2):
        optim.zero_grad()
        outs = model(x)
        sum((o * torch.randn_like(o)).mean() for o in outs).backward()
        optim.step()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing


@pytest.mark.parametrize('frozen_stages', [0, 1, 2, 4])
def test_frozen_stages(frozen_stages):
    model = ResNetV2(depth=18, stem_norm=True, frozen_stages=frozen_stages,
                     out_indices=(0, 1, 2, 3))
    model.train()
    frozen = [model.conv1, model.norm1]
    for i in range(1, frozen_stages + 1):
        frozen += [getattr(model, f'layer{i}'), getattr(model, f'out_norm{i}')]
    trainable = []
    for i in range(frozen_stages + 1, 5):
        trainable += [getattr(model, f'layer{i}'), getattr(model, f'out_norm{i}')]
    assert_frozen_stages(model, frozen, trainable, torch.randn(2, 3, 32, 32))


def test_norm_eval():
    model = ResNetV2(depth=18, norm_eval=True, out_indices=(0, 3))
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    before = model.out_norm1.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(model.out_norm1.running_mean, before)


def test_output_stride_8_with_dilation():
    model = ResNetV2(depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                     out_indices=(0, 1, 2, 3))
    model.eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [16, 8, 8, 8]
    assert model.layer4[1].conv2.dilation == (4, 4)
    contracted = ResNetV2(depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                          contract_dilation=True)
    assert contracted.layer4[0].conv2.dilation == (2, 2)


def test_plugins_in_preact_units():
    model = ResNetV2(depth=50, plugins=[dict(cfg=dict(type='mmresfam.SE'),
                                             stages=(False, False, True, True),
                                             position='after_conv3')])
    model.eval()
    assert not model.layer1[0].plugin_names['after_conv3']
    assert len(model.layer3[0].plugin_names['after_conv3']) == 1
    assert model(torch.randn(1, 3, 32, 32))[-1].shape == (1, 2048, 1, 1)


def test_compiles_without_graph_breaks():
    torch._dynamo.reset()
    model = ResNetV2(depth=18, out_indices=(0, 3))
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    compiled = torch.compile(model, backend='eager', fullgraph=True)
    with torch.no_grad():
        for a, b in zip(compiled(x), model(x)):
            torch.testing.assert_close(a, b)
