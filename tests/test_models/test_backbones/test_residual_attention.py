"""Tests of ``mmresfam.ResidualAttentionNet`` (Attention-56/92 and the 32x32-input variants)."""
import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmresfam.models.backbones.residual_attention import (AttentionModule,
                                                          ResidualAttentionNet, SoftMaskBranch)
from mmresfam.models.backbones.resnetv2 import PreActBottleneck, ResNetV2
from mmresfam.registry import MODELS
from test_models._helpers import assert_frozen_stages

HEAD = 2048 * 1000 + 1000


def _params(module):
    return sum(p.numel() for p in module.parameters())


def _small(arch='attention56-cifar', **kwargs):
    """A narrow network (widths 16/32/64/128) for cheap forward passes."""
    return ResidualAttentionNet(arch=arch, stem_channels=4, base_channels=4, **kwargs)


def _module(channels=8, depth=2, **kwargs):
    def make_unit(rate):
        return PreActBottleneck(channels, channels, drop_path_rate=rate)
    return AttentionModule(channels, depth, make_unit, **kwargs)


def test_registered_and_reuses_preact_units():
    assert MODELS.get('mmresfam.ResidualAttentionNet') is ResidualAttentionNet
    assert issubclass(ResidualAttentionNet, ResNetV2)
    net = ResidualAttentionNet(arch='attention56')
    units = [m for m in net.modules() if isinstance(m, PreActBottleneck)]
    residual_like = [m for m in net.modules()
                     if hasattr(m, 'conv3') and not isinstance(m, PreActBottleneck)]
    assert units and not residual_like


@pytest.mark.parametrize('arch, paper, port', [('attention56', 31.9e6, 31_810_728),
                                               ('attention92', 51.3e6, 52_466_344)])
def test_param_counts(arch, paper, port):
    total = _params(ResidualAttentionNet(arch=arch)) + HEAD
    assert abs(total - paper) / paper < 0.03
    assert total == port              # the independent pytorchcv port, exactly


@pytest.mark.parametrize('arch, modules', [('attention56', (1, 1, 1)), ('attention92', (1, 2, 3))])
def test_layout(arch, modules):
    net = ResidualAttentionNet(arch=arch, out_indices=(0, 1, 2, 3))
    for i, m in enumerate(modules):
        layer = getattr(net, f'layer{i + 1}')
        assert isinstance(layer[0], PreActBottleneck) and layer[0].downsample is not None
        atts = list(layer)[1:]
        assert len(atts) == m and all(isinstance(a, AttentionModule) for a in atts)
        mask = atts[0].mask
        assert mask.depth == 3 - i and len(mask.skips) == 2 - i      # 2/1/0 skips
        assert len(atts[0].pre) == 1 and len(atts[0].trunk) == 2 and len(atts[0].post) == 1
    assert len(net.layer4) == 3 and not any(isinstance(b, AttentionModule) for b in net.layer4)
    assert net.out_channels == [256, 512, 1024, 2048]
    assert isinstance(net.maxpool, nn.MaxPool2d) and net.conv1.kernel_size == (7, 7)
    assert isinstance(net.norm1, nn.BatchNorm2d)


@pytest.mark.parametrize('arch', ['attention56', 'attention92'])
def test_shapes_every_output_imagenet_layout(arch):
    net = ResidualAttentionNet(arch=arch, out_indices=(0, 1, 2, 3), stem_channels=16,
                               base_channels=4)
    net.eval()
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 16, 16), (1, 32, 8, 8), (1, 64, 4, 4),
                                              (1, 128, 2, 2)]
    assert all((o >= 0).all() for o in outs)              # normalised + ReLU outputs


@pytest.mark.parametrize('arch, modules', [('attention56-cifar', (1, 1, 1)),
                                           ('attention92-cifar', (1, 2, 3))])
def test_small_input_variant(arch, modules):
    full = ResidualAttentionNet(arch=arch)
    assert full.out_channels == [128, 256, 512, 1024]
    assert full.conv1.kernel_size == (3, 3) and full.conv1.stride == (1, 1)
    assert isinstance(full.maxpool, nn.Identity) and full.min_input_size == 4
    assert [full.layer1[1].mask.depth, full.layer2[1].mask.depth,
            full.layer3[1].mask.depth] == [2, 1, 0]
    assert [len(getattr(full, f'layer{i + 1}')) - 1 for i in range(3)] == list(modules)
    net = _small(arch, out_indices=(0, 1, 2, 3))
    net.eval()
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 32, 32), (1, 32, 16, 16), (1, 64, 8, 8),
                                              (1, 128, 8, 8)]


@pytest.mark.parametrize('size', [(224, 224), (225, 225), (224, 160)])
def test_any_input_size(size):
    net = ResidualAttentionNet(arch='attention56', stem_channels=8, base_channels=2,
                               out_indices=(0, 1, 2, 3))
    net.eval()
    h, w = size
    with torch.no_grad():
        outs = net(torch.randn(1, 3, h, w))
    expected = [(-(-h // s), -(-w // s)) for s in (4, 8, 16, 32)]
    assert [tuple(o.shape[-2:]) for o in outs] == expected


def test_odd_non_square_sizes_small_variant():
    net = _small('attention92-cifar')
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 33, 27))[0].shape == (1, 128, 9, 7)


def test_mask_upsamples_to_exact_skip_sizes():
    branch = _module(depth=3).mask
    seen = []
    hooks = [m.register_forward_hook(lambda mod, i, o: seen.append(tuple(o.shape[-2:])))
             for m in list(branch.down) + list(branch.up)]
    branch.eval()
    with torch.no_grad():
        mask = branch(torch.randn(1, 8, 29, 15), (29, 15))
    for h in hooks:
        h.remove()
    # down: 15x8, 8x4, 4x2; up (coarse to fine): 8x4, 15x8; final mask at the trunk size
    assert seen == [(15, 8), (8, 4), (4, 2), (8, 4), (15, 8)]
    assert mask.shape == (1, 8, 29, 15)


def test_output_is_one_plus_mask_times_trunk():
    torch.manual_seed(0)
    module = _module(depth=2)
    module.eval()
    for m in module.modules():       # non-trivial units (no zero-init) and statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(2, 8, 12, 12)
    with torch.no_grad():
        trunk, mask = module.branches(x)
        expected = module.post((1 + mask) * trunk)
        torch.testing.assert_close(module(x), expected)
        # the branches read independently of the module's own forward
        pre = module.pre(x)
        torch.testing.assert_close(trunk, module.trunk(pre))
        torch.testing.assert_close(mask, module.mask(pre, trunk.shape[-2:]))
    assert 0 <= mask.min() and mask.max() <= 1 and mask.std() > 0


def test_record_attention_and_get_attention_maps():
    net = _small('attention92-cifar')
    net.eval()
    x = torch.randn(2, 3, 32, 32)
    modules = net.attention_modules()
    assert len(modules) == 6
    net(x)
    assert all(m.last_attention_map is None for m in modules)     # nothing stored by default
    maps = net.get_attention_maps(x)
    assert [tuple(m.shape) for m in maps] == [(2, 16, 32, 32)] + [(2, 32, 16, 16)] * 2 + \
        [(2, 64, 8, 8)] * 3
    assert all(0 <= m.min() and m.max() <= 1 and not m.requires_grad for m in maps)
    assert not any(m.record_attention for m in modules)           # flags restored


@pytest.mark.parametrize('attention_type', ['mixed', 'channel', 'spatial'])
def test_attention_types(attention_type):
    module = _module(depth=1, attention_type=attention_type)
    module.eval()
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        _, mask = module.branches(x)
        s = module.mask.down[0](module.mask.pool(module.pre(x)))
        s = module.mask.head(nn.functional.interpolate(s, size=(8, 8), mode='bilinear',
                                                       align_corners=False))
    if attention_type == 'channel':       # f2: L2-normalised over channels at each position
        torch.testing.assert_close(mask.norm(dim=1), torch.ones(2, 8, 8))
    elif attention_type == 'spatial':     # f3: per-channel spatial standardisation + sigmoid
        z = torch.logit(mask.clamp(1e-6, 1 - 1e-6))
        torch.testing.assert_close(z.mean((2, 3)), torch.zeros(2, 8), atol=1e-3, rtol=0)
        assert 0 <= mask.min() and mask.max() <= 1
    else:                                 # f1: sigmoid everywhere
        torch.testing.assert_close(mask, torch.sigmoid(s))


def test_gradients_flow_through_both_branches():
    net = _small('attention56-cifar', out_indices=(0, 1, 2, 3), zero_init_residual=False)
    net.init_weights()
    net.train()
    outs = net(torch.randn(2, 3, 32, 32))
    sum(o.mean() for o in outs).backward()
    for module in net.attention_modules():
        trunk = [p.grad for p in module.trunk.parameters()]
        mask = [p.grad for p in module.mask.parameters()]
        assert all(g is not None and g.abs().sum() > 0 for g in trunk)
        assert all(g is not None and g.abs().sum() > 0 for g in mask)
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing


@pytest.mark.parametrize('frozen_stages', [0, 2, 4])
def test_frozen_stages(frozen_stages):
    net = _small('attention56-cifar', frozen_stages=frozen_stages, out_indices=(0, 1, 2, 3))
    net.train()
    frozen = [net.conv1, net.norm1]
    for i in range(1, frozen_stages + 1):
        frozen += [getattr(net, f'layer{i}'), getattr(net, f'out_norm{i}')]
    trainable = [getattr(net, f'layer{i}') for i in range(frozen_stages + 1, 5)]
    assert_frozen_stages(net, frozen, trainable, torch.randn(2, 3, 16, 16))


def test_norm_eval():
    net = _small('attention56-cifar', norm_eval=True)
    net.train()
    bns = [m for m in net.modules() if isinstance(m, _BatchNorm)]
    assert all(not m.training for m in bns)
    before = net.layer1[1].mask.head[0].running_mean.clone()
    net(torch.randn(2, 3, 16, 16))
    torch.testing.assert_close(net.layer1[1].mask.head[0].running_mean, before)


def test_with_cp_same_outputs():
    torch.manual_seed(0)
    ref = _small('attention56-cifar')
    cp_net = _small('attention56-cifar', with_cp=True)
    cp_net.load_state_dict(ref.state_dict())
    assert all(u.with_cp for u in cp_net.layer1[1].trunk)
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    torch.testing.assert_close(ref(x)[0], cp_net(x)[0])


def test_drop_path_rate_reaches_trunk_units_not_mask_units():
    net = _small('attention92-cifar', drop_path_rate=0.3)
    module = net.layer3[-1]
    assert module.trunk[0].drop_path.drop_prob > 0
    assert all(isinstance(u.drop_path, nn.Identity) for u in module.mask.modules()
               if isinstance(u, PreActBottleneck))


def test_output_stride_8_with_dilation():
    net = _small('attention56', strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                 out_indices=(0, 1, 2, 3))
    net.eval()
    assert net.min_input_size == 29
    assert net.layer3[1].trunk[0].conv2.dilation == (2, 2)
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [16, 8, 8, 8]


def test_too_small_input():
    net = ResidualAttentionNet(arch='attention56', stem_channels=8, base_channels=2)
    net.eval()
    assert net.min_input_size == 29
    with torch.no_grad():
        net(torch.randn(1, 3, 29, 29))
        with pytest.raises(ValueError, match=r'28x28 is too small.*minimum size is 29x29'):
            net(torch.randn(1, 3, 28, 28))
        with pytest.raises(ValueError, match='minimum size is 29x29'):
            net(torch.randn(1, 3, 64, 20))


@pytest.mark.parametrize('kwargs, match', [
    (dict(arch='attention128'), r"arch='attention128'.*'attention56', 'attention92'"),
    (dict(attention_type='both'), r"attention_type='both'.*\['mixed', 'channel', 'spatial'\]"),
    (dict(t=0), 't must be an integer >= 1'),
    (dict(r=0), 'r must be an integer >= 1'),
    (dict(stem_norm=False), 'stem_norm is fixed'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResidualAttentionNet(**kwargs)


def test_soft_mask_branch_errors():
    with pytest.raises(ValueError, match='attention_type'):
        SoftMaskBranch(8, 1, lambda: nn.Identity(), attention_type='x')
    with pytest.raises(ValueError, match='depth must be an integer >= 0'):
        SoftMaskBranch(8, -1, lambda: nn.Identity())


def test_builds_in_faster_rcnn():
    """The detector's backbone + FPN, built through MMDetection's registry."""
    pytest.importorskip('mmdet')
    from mmdet.registry import MODELS as DET_MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = dict(type='mmresfam.ResidualAttentionNet', arch='attention56',
               out_indices=(0, 1, 2, 3), frozen_stages=1, norm_eval=True,
               init_cfg=None)
    backbone = DET_MODELS.build(cfg)
    assert isinstance(backbone, ResidualAttentionNet)
    assert backbone.out_channels == [256, 512, 1024, 2048]
    small = DET_MODELS.build(dict(cfg, stem_channels=8, base_channels=2))
    neck = DET_MODELS.build(dict(type='FPN', in_channels=small.out_channels, out_channels=8,
                                 num_outs=5))
    small.eval()
    with torch.no_grad():
        feats = neck(small(torch.randn(1, 3, 64, 96)))
    assert [tuple(f.shape[-2:]) for f in feats] == [(16, 24), (8, 12), (4, 6), (2, 3), (1, 2)]


def test_compiles_without_graph_breaks():
    torch._dynamo.reset()
    net = _small('attention56-cifar', out_indices=(0, 3))
    net.eval()
    x = torch.randn(1, 3, 16, 16)
    compiled = torch.compile(net, backend='eager', fullgraph=True)
    with torch.no_grad():
        for a, b in zip(compiled(x), net(x)):
            torch.testing.assert_close(a, b)


def test_depth_is_refused_naming_arch():
    """ResNet's ``depth`` is not this backbone's argument: one line naming ``arch``."""
    with pytest.raises(TypeError, match=r"^ResidualAttentionNet: unexpected argument depth=56; "
                                        r"the network is chosen with arch, one of "
                                        r"\['attention56', 'attention92', "):
        ResidualAttentionNet(depth=56)
