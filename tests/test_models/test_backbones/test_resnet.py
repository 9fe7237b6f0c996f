"""Tests of ``mmresfam.ResNet`` / ``ResNetV1c`` / ``ResNetV1d`` (the lead's core backbone)."""
import pytest
import torch
from mmpretrain.models.backbones import ResNet as PretrainResNet
from mmpretrain.models.backbones import ResNetV1c as PretrainResNetV1c
from mmpretrain.models.backbones import ResNetV1d as PretrainResNetV1d
from torch.nn.modules.batchnorm import _BatchNorm

from analysis._lib.export import small_backbones
from mmresfam.models.backbones import ResNet, ResNetV1c, ResNetV1d
from mmresfam.models.backbones.resnet import BasicBlock, Bottleneck, ResLayer
from mmresfam.registry import MODELS
from test_models._helpers import assert_frozen_stages, assert_stage_shapes, randomise_bn

# ResNet-50 layout at 1/4 width (stem 16, stages 64/128/256/512): runs fast on CPU
SMALL50 = dict(depth=50, stem_channels=16, base_channels=16)


@pytest.mark.parametrize('depth, channels', [(18, [64, 128, 256, 512]),
                                             (34, [64, 128, 256, 512])])
def test_basic_depths_shapes_every_out_index(depth, channels):
    assert_stage_shapes(ResNet(depth=depth, out_indices=(0, 1, 2, 3)), channels, size=32)


def test_bottleneck_shapes_and_out_channels():
    model = ResNet(**SMALL50, out_indices=(0, 1, 2, 3))
    model.eval()
    assert model.out_channels == [64, 128, 256, 512]
    assert isinstance(model.layer1[0], Bottleneck)
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 4, 4),
                                              (1, 512, 2, 2)]
    assert ResNet(depth=50).out_channels == [256, 512, 1024, 2048]
    assert ResNet(depth=18, num_stages=2, strides=(1, 2), dilations=(1, 1),
                  out_indices=(1, )).out_channels == [64, 128]


def test_registered_names():
    for name, cls in [('ResNet', ResNet), ('ResNetV1c', ResNetV1c), ('ResNetV1d', ResNetV1d)]:
        assert isinstance(MODELS.build(dict(type=f'mmresfam.{name}', depth=18)), cls)


@pytest.mark.parametrize('ours_cls, theirs_cls, depth', [
    (ResNet, PretrainResNet, 50), (ResNet, PretrainResNet, 18),
    (ResNetV1c, PretrainResNetV1c, 50), (ResNetV1d, PretrainResNetV1d, 50)])
def test_strict_load_parity_with_mmpretrain(ours_cls, theirs_cls, depth):
    """A state_dict of mmpretrain's class loads strictly into ours and gives the same output.

    (The real ResNet-50 layout and parameter count; the forward pass is on a 32 px image.)"""
    torch.manual_seed(0)
    theirs = theirs_cls(depth=depth, out_indices=(0, 1, 2, 3))
    randomise_bn(theirs)
    ours = ours_cls(depth=depth, out_indices=(0, 1, 2, 3))
    assert set(ours.state_dict()) == set(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    if depth == 50 and ours_cls is ResNet:
        n = sum(p.numel() for p in ours.parameters())
        assert n == 23_508_032                   # ResNet-50 backbone (25.56M with the fc head)
    theirs.eval()
    ours.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(theirs(x), ours(x)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_pretrained_kwarg_loads_checkpoint(tmp_path):
    torch.manual_seed(0)
    src = PretrainResNet(depth=18)
    ckpt = tmp_path / 'r18.pth'
    torch.save({'state_dict': src.state_dict()}, ckpt)
    with pytest.warns(DeprecationWarning, match='pretrained is deprecated'):
        model = ResNet(depth=18, pretrained=str(ckpt))
    assert model.init_cfg == dict(type='Pretrained', checkpoint=str(ckpt))
    model.init_weights()
    for k, v in src.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, msg=k)
    with pytest.raises(TypeError, match='pretrained must be a str or None'):
        ResNet(depth=18, pretrained=123)


def test_pretrained_checkpoint_without_matching_keys_is_an_error(tmp_path):
    ckpt = tmp_path / 'other.pth'
    torch.save({'state_dict': {'foo.weight': torch.zeros(1)}}, ckpt)
    model = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    with pytest.raises(ValueError, match='ResNet'):
        model.init_weights()


def test_output_stride_8_with_dilation():
    model = ResNet(**SMALL50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                   out_indices=(0, 1, 2, 3))
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[2:]) for o in outs] == [(16, 16), (8, 8), (8, 8), (8, 8)]
    assert [b.conv2.dilation for b in model.layer3] == [(2, 2)] * 6
    assert [b.conv2.dilation for b in model.layer4] == [(4, 4)] * 3
    assert model.layer4[0].conv2.padding == (4, 4)


def test_contract_dilation():
    model = ResNet(**SMALL50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                   contract_dilation=True)
    assert [b.conv2.dilation[0] for b in model.layer3] == [1, 2, 2, 2, 2, 2]
    assert [b.conv2.dilation[0] for b in model.layer4] == [2, 4, 4]
    assert [b.conv2.dilation[0] for b in model.layer2] == [1] * 4   # dilation 1: untouched
    assert model(torch.randn(1, 3, 64, 64))[-1].shape == (1, 512, 8, 8)
    basic = ResNet(depth=18, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                   contract_dilation=True)
    assert [b.conv1.dilation[0] for b in basic.layer4] == [2, 4]


def test_drop_path_rate_one_returns_activated_shortcut():
    """mmpretrain spreads the rate linearly over the blocks: the last one gets 1.0."""
    torch.manual_seed(0)
    model = ResNet(**SMALL50, drop_path_rate=1.0)
    model.train()
    last = model.layer4[-1]
    assert last.drop_path.drop_prob == pytest.approx(1.0)
    assert model.layer1[0].drop_path.__class__.__name__ == 'Identity'    # rate 0
    y = torch.randn(2, 512, 2, 2)
    torch.testing.assert_close(last(y), torch.relu(y))
    model.eval()                                 # no drop path in eval mode
    assert not torch.allclose(last(y), torch.relu(y))


@pytest.mark.parametrize('block, in_ch, out_ch', [(Bottleneck, 64, 128), (BasicBlock, 32, 64)])
def test_drop_path_one_with_projection_shortcut(block, in_ch, out_ch):
    torch.manual_seed(0)
    layer = ResLayer(block, 1, in_ch, out_ch, stride=2, drop_path_rate=1.0)
    blk = layer[0]
    assert blk.downsample is not None
    layer.train()
    x = torch.randn(2, in_ch, 8, 8)
    out = blk(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.relu(blk.downsample(x)))
    # with_cp takes the same path
    blk.with_cp = True
    x.requires_grad_(True)
    torch.testing.assert_close(blk(x), torch.relu(blk.downsample(x)))


def test_with_cp_same_outputs_and_grads():
    torch.manual_seed(0)
    ref = ResNet(depth=18, out_indices=(0, 1, 2, 3))
    cp_model = ResNet(depth=18, out_indices=(0, 1, 2, 3), with_cp=True)
    cp_model.load_state_dict(ref.state_dict())
    assert all(b.with_cp for layer in (cp_model.layer1, cp_model.layer4) for b in layer)
    x = torch.randn(2, 3, 32, 32)
    outs_ref, outs_cp = ref(x), cp_model(x)
    for a, b in zip(outs_ref, outs_cp):
        torch.testing.assert_close(a, b)
    sum(o.sum() for o in outs_ref).backward()
    sum(o.sum() for o in outs_cp).backward()
    for (n, p), q in zip(ref.named_parameters(), cp_model.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('frozen_stages', [0, 1, 2, 4])
def test_frozen_stages(frozen_stages):
    model = ResNet(depth=18, frozen_stages=frozen_stages)
    model.train()
    frozen = [model.conv1, model.norm1] + [getattr(model, f'layer{i}')
                                           for i in range(1, frozen_stages + 1)]
    trainable = [getattr(model, f'layer{i}') for i in range(frozen_stages + 1, 5)]
    assert_frozen_stages(model, frozen, trainable, torch.randn(2, 3, 32, 32))


def test_frozen_stages_minus_one_trains_everything():
    model = ResNet(depth=18, frozen_stages=-1)
    model.train()
    assert all(p.requires_grad for p in model.parameters())


def test_norm_eval():
    model = ResNet(depth=18, norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not bn.training for bn in bns)
    before = [bn.running_mean.clone() for bn in bns]
    model(torch.randn(2, 3, 32, 32))
    assert all(torch.equal(a, bn.running_mean) for a, bn in zip(before, bns))
    model = ResNet(depth=18, norm_eval=False)
    model.train()
    assert all(m.training for m in model.modules() if isinstance(m, _BatchNorm))


def test_train_eval_and_gradients():
    torch.manual_seed(0)
    model = ResNet(**SMALL50, out_indices=(0, 1, 2, 3))
    model.train()
    x = torch.randn(2, 3, 32, 32)
    outs = model(x)
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    torch.testing.assert_close(a, b)


def test_plugins_built_per_stage_and_position():
    model = ResNet(**SMALL50, plugins=[
        dict(cfg=dict(type='mmresfam.SE', reduction=4), stages=(False, True, False, True),
             position='after_conv2'),
        dict(cfg=dict(type='mmresfam.CBAM'), position='after_conv3'),
    ])
    for i, layer in enumerate([model.layer1, model.layer2, model.layer3, model.layer4]):
        for block in layer:
            names = block.plugin_names
            assert names['after_conv3'] == ['cbam']  # MMDetection's names in bottlenecks
            assert names['after_conv2'] == (['se'] if i in (1, 3) else [])
            if i in (1, 3):
                assert block.se.in_channels == block.mid_channels
    assert model(torch.randn(2, 3, 32, 32))[-1].shape == (2, 512, 1, 1)
    basic = ResNet(depth=18, plugins=[dict(cfg=dict(type='mmresfam.scSE', reduction=4),
                                           position='after_conv1')])
    assert basic.layer1[0].scse_after_conv1_0.in_channels == 64
    assert isinstance(basic.layer1[0], BasicBlock)


@pytest.mark.parametrize('plugins, match', [
    ([dict(cfg=dict(type='mmresfam.CBAM'), position='after_conv4')],
     "plugins\\[0\\].position='after_conv4' is not supported; allowed values are"),
    ([dict(cfg=dict(type='mmresfam.CBAM'), stages=(True, True, True),
           position='after_conv3')],
     'plugins\\[0\\].stages has 3 entries but the backbone has num_stages=4'),
    ([dict(cfg=dict(type='mmresfam.CBAM'), position='after_conv3', foo=1)],
     'unknown keys'),
    ([dict(position='after_conv3')], "plugins\\[0\\]\\['cfg'\\] must be a dict with a 'type'"),
    (dict(cfg=dict(type='mmresfam.CBAM'), position='after_conv3'),
     'plugins must be a list of dicts'),
])
def test_plugins_errors(plugins, match):
    with pytest.raises(ValueError, match=match):
        ResNet(depth=50, plugins=plugins)


def test_basic_block_has_no_after_conv3():
    with pytest.raises(ValueError, match="plugins.position='after_conv3' is not supported"):
        ResNet(depth=18, plugins=[dict(cfg=dict(type='mmresfam.CBAM'),
                                       position='after_conv3')])


@pytest.mark.parametrize('kwargs, exc, match', [
    (dict(depth=20), KeyError, 'invalid depth=20; allowed depths are'),
    (dict(depth=18, num_stages=5), ValueError, 'num_stages must be in'),
    (dict(depth=18, strides=(1, 2)), ValueError, 'strides has 2 entries'),
    (dict(depth=18, dilations=(1, 1, 1)), ValueError, 'dilations has 3 entries'),
    (dict(depth=18, out_indices=(4, )), ValueError, 'out_indices=\\(4,\\) must lie in'),
    (dict(depth=18, style='tf'), ValueError, "style='tf' is not supported"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ResNet(**kwargs)


def test_v1c_v1d_stems():
    c = ResNetV1c(depth=18)
    d = ResNetV1d(depth=18)
    d.eval()
    assert c.deep_stem and not c.avg_down and d.deep_stem and d.avg_down
    assert isinstance(d.layer2[0].downsample[0], torch.nn.AvgPool2d)
    assert d(torch.randn(1, 3, 32, 32))[-1].shape == (1, 512, 1, 1)


def test_compiles_without_graph_breaks_with_plugins():
    torch._dynamo.reset()
    model = ResNet(depth=18, plugins=[dict(cfg=dict(type='mmresfam.CBAM', reduction=4),
                                           position='after_conv2')])
    model.eval()   # (mmpretrain's ResNet.train returns None, so no chaining)
    x = torch.randn(1, 3, 32, 32)
    compiled = torch.compile(model, backend='eager', fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x)[-1], model(x)[-1])


@pytest.mark.parametrize('name, params, plugin_type, n_plugins', [
    ('resnet50', 25_557_032, None, 0),
    ('cbam-resnet50', 28_089_624, 'CBAM', 16),
    ('sge-resnet50', 25_559_080, 'SGE', 16),
    ('scse-resnet50', 28_103_144, 'scSE', 16),
    ('a2-resnet50', 26_745_128, 'DoubleAttention', 9),
])
def test_imagenet_configs_build(name, params, plugin_type, n_plugins, repo_root):
    """The configs/resnet models build, with the plugins where the README says, and the
    parameter counts of the README table (with the 1000-class head)."""
    import os.path as osp

    from mmengine.config import Config
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'resnet', f'{name}_8xb32_in1k.py'))
    model = PRETRAIN_MODELS.build(cfg.model)
    assert isinstance(model.backbone, ResNet) and model.backbone.depth == 50
    assert sum(p.numel() for p in model.parameters()) == params
    found = [m for m in model.backbone.modules() if type(m).__name__ == plugin_type]
    assert len(found) == n_plugins
    if plugin_type == 'DoubleAttention':
        assert all(isinstance(b.a2, type(found[0]))
                   for layer in (model.backbone.layer3, model.backbone.layer4) for b in layer)
        assert not any(type(m).__name__ == plugin_type for m in model.backbone.layer2.modules())


def test_fewer_stages_default_strides_and_chainable_train():
    import torch as _torch
    from mmresfam.models import ResNet as _ResNet
    model = _ResNet(depth=18, num_stages=2, out_indices=(0, 1))
    assert model.eval() is model and not model.training
    outs = model(_torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 16, 16), (128, 8, 8)]
    with pytest.raises(ValueError, match='strides has 4 entries but num_stages=2'):
        _ResNet(depth=18, num_stages=2, strides=(1, 2, 2, 2), out_indices=(0, ))


# --- channels_last: every registered backbone, the same function in the NHWC layout ---------
SMALL = small_backbones()  # smallest member of every registered backbone class


def _small_pair(name):
    cfg = dict(SMALL[name], out_indices=(0, 1, 2, 3))
    torch.manual_seed(0)
    ref = MODELS.build(dict(cfg, channels_last=False))
    fast = MODELS.build(dict(cfg, channels_last=True))
    randomise_bn(ref)
    fast.load_state_dict(ref.state_dict())  # copies into the channels-last parameters
    return ref.double(), fast.double()


def _assert_scaled_close(actual, expected, rel, what=''):
    """max |actual - expected| <= rel * max |expected| + 1e-9 (gradients sum many terms of
    both signs, so elementwise relative errors of tiny entries say nothing, and the gradient of
    a bias followed by a batch norm is zero up to rounding)."""
    err = (actual - expected).abs().max().item()
    scale = expected.abs().max().item()
    assert err <= rel * scale + 1e-9, f'{what}: max abs error {err:.3g}, max value {scale:.3g}'


@pytest.mark.parametrize('name', sorted(SMALL))
def test_channels_last_is_the_same_function(name):
    ref, fast = _small_pair(name)
    assert list(ref.state_dict()) == list(fast.state_dict())
    weights = [p for p in fast.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert not all(p.is_contiguous() for p in weights)  # really converted
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    for train in (True, False):
        ref.train(train), fast.train(train)
        xr, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
        out_ref, out_fast = ref(xr), fast(xf)
        for a, b in zip(out_ref, out_fast, strict=True):
            assert b.is_contiguous()  # handed back in the NCHW layout mmcv's ops expect
            torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9)
        if train:  # same gradients for the input and every parameter
            sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)).sum()
                for o in out_ref).backward()
            sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)).sum()
                for o in out_fast).backward()
            _assert_scaled_close(xf.grad, xr.grad, 1e-9, 'input')
            for (key, p), q in zip(ref.named_parameters(), fast.parameters()):
                if p.grad is not None:
                    _assert_scaled_close(q.grad, p.grad, 1e-9, key)
    # running statistics were updated identically in the training pass
    torch.testing.assert_close(fast.state_dict(), ref.state_dict(), rtol=1e-9, atol=1e-9)


def test_channels_last_survives_init_and_checkpoint_loading(tmp_path):
    ref = ResNet(depth=18, channels_last=False)
    path = tmp_path / 'r18.pth'
    torch.save(ref.state_dict(), path)
    fast = ResNet(depth=18, channels_last=True,
                  init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    fast.init_weights()
    torch.testing.assert_close(fast.state_dict(), ref.state_dict(), rtol=0, atol=0)
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.layer4[1].conv2.weight.is_contiguous(memory_format=torch.channels_last)
    scratch = ResNet(depth=18, channels_last=True)
    scratch.init_weights()  # Kaiming / constant init in place keeps the layout
    assert scratch.layer1[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_outputs_feed_mmcv_roi_align():
    """mmcv's RoIAlign reads raw NCHW memory: fed an NHWC tensor it returns wrong values
    without an error, so the backbone hands its outputs back contiguous."""
    from mmcv.ops import RoIAlign
    torch.manual_seed(0)
    ref = ResNet(depth=18, out_indices=(0, 1), channels_last=False).eval()
    fast = ResNet(depth=18, out_indices=(0, 1), channels_last=True).eval()
    fast.load_state_dict(ref.state_dict())
    roi_align = RoIAlign((3, 3), spatial_scale=1 / 4, sampling_ratio=2)
    rois = torch.tensor([[0, 4., 4., 40., 36.], [1, 10., 0., 60., 50.]])
    with torch.no_grad():
        x = torch.randn(2, 3, 64, 64)
        feat_ref, feat_fast = ref(x)[0], fast(x)[0]
        expected = roi_align(feat_ref, rois)
        torch.testing.assert_close(roi_align(feat_fast, rois), expected, rtol=1e-5, atol=1e-5)
        # the reason: the same values in NHWC memory give a different answer
        nhwc = feat_ref.contiguous(memory_format=torch.channels_last)
        assert (roi_align(nhwc, rois) - expected).abs().max() > 1e-2


def _layout(model):
    weights = [p for p in model.parameters() if p.dim() == 4]
    if all(p.is_contiguous(memory_format=torch.channels_last) for p in weights):
        return 'nhwc'
    assert all(p.is_contiguous() for p in weights), 'mixed layouts'
    return 'nchw'


def test_default_layout_is_nhwc_on_the_cpu_and_follows_the_device():
    """``channels_last='cpu'`` (the default): NHWC while the weights are on the CPU, NCHW on
    any other device (the layout is redone by ``.to()``; 'meta' stands in for a GPU here)."""
    model = ResNet(depth=18, out_indices=(0, 3)).eval()
    assert model.channels_last == 'cpu' and _layout(model) == 'nhwc'
    x = torch.randn(1, 3, 32, 32)
    assert all(o.is_contiguous() for o in model(x))  # outputs handed back NCHW
    moved = model.to('meta')
    assert moved is model and _layout(model) == 'nchw' and not model._nhwc
    outs = model(x.to('meta'))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 8, 8), (1, 512, 1, 1)]
    model.to_empty(device='cpu')  # back on the CPU: NHWC again
    assert _layout(model) == 'nhwc' and model._nhwc
    always = ResNet(depth=18, channels_last=True).to('meta')
    assert _layout(always) == 'nhwc' and always._nhwc
    never = ResNet(depth=18, channels_last=False)
    assert _layout(never) == 'nchw' and not never._forward_pre_hooks
    # an explicit memory format on the same device is kept (as for any nn.Module)
    model.to(memory_format=torch.contiguous_format)
    assert _layout(model) == 'nchw'
    meta = ResNet(depth=18).to('meta').to(memory_format=torch.channels_last)
    assert _layout(meta) == 'nhwc' and not meta._nhwc  # the caller converts its input


def test_checkpoints_hold_nchw_tensors_in_either_layout(tmp_path):
    model = ResNet(depth=18)  # NHWC parameters on the CPU
    assert _layout(model) == 'nhwc'
    state = model.state_dict()
    assert all(v.is_contiguous() for v in state.values())
    torch.save(state, tmp_path / 'r18.pth')
    loaded = torch.load(tmp_path / 'r18.pth')
    assert all(v.is_contiguous() for v in loaded.values())
    assert loaded['conv1.weight'].view(64, -1).shape == (64, 147)  # plain NCHW tensors
    model.load_state_dict(loaded)
    assert _layout(model) == 'nhwc'  # loading copies into the NHWC parameters
    params = model.state_dict(keep_vars=True)
    assert params['conv1.weight'] is model.conv1.weight  # keep_vars: the parameters as they are


def test_default_layout_is_the_same_function_as_nchw():
    torch.manual_seed(0)
    ref = ResNet(depth=18, out_indices=(1, 3), channels_last=False).double()
    fast = ResNet(depth=18, out_indices=(1, 3)).double()  # .double() keeps the layout
    fast.load_state_dict(ref.state_dict())
    assert _layout(fast) == 'nhwc'
    x = torch.randn(2, 3, 48, 48, dtype=torch.float64)
    for a, b in zip(ref(x), fast(x), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9)


def test_dcn_keeps_the_nchw_layout():
    """mmcv's deformable convolutions need NCHW tensors (``DCN`` refuses NHWC ones, ``DCNv2``
    silently misreads them): ``'cpu'`` falls back to NCHW with ``dcn`` and
    ``channels_last=True`` is refused."""
    from mmcv.ops import ModulatedDeformConv2dPack
    torch.manual_seed(0)
    conv = ModulatedDeformConv2dPack(8, 8, 3, padding=1)
    torch.nn.init.normal_(conv.conv_offset.weight, std=0.1)
    x = torch.randn(2, 8, 12, 12)
    with torch.no_grad():  # the reason: the same values in NHWC memory give another answer
        nhwc = x.contiguous(memory_format=torch.channels_last)
        assert (conv(nhwc) - conv(x)).abs().max() > 1e-2
    dcn = dict(type='DCN', deform_groups=1, fallback_on_stride=False)
    stages = (False, True, False, False)
    model = ResNet(depth=50, dcn=dcn, stage_with_dcn=stages)
    assert model.channels_last is False and _layout(model) == 'nchw'
    with pytest.raises(ValueError, match='ResNet: channels_last=True needs plain convolutions'):
        ResNet(depth=50, dcn=dcn, stage_with_dcn=stages, channels_last=True)


@pytest.mark.parametrize('value', ['yes', 1, None, 'cuda'])
def test_channels_last_must_be_a_bool_or_cpu(value):
    with pytest.raises(ValueError, match=r"ResNet: channels_last=.* is not supported; allowed "
                                         r"values are \[True, False, 'cpu'\]"):
        ResNet(depth=18, channels_last=value)


# --- backbone arguments: one clear error each, for every registered backbone ----------------
@pytest.mark.parametrize('name', sorted(SMALL))
@pytest.mark.parametrize('kwargs, match', [
    (dict(frozen_stages=10), r'frozen_stages must be an integer in \[-1, 4\], got 10'),
    (dict(frozen_stages=-5), r'frozen_stages must be an integer in \[-1, 4\], got -5'),
    (dict(out_indices=5), r'out_indices must be a non-empty sequence of stage indices in '
                          r'\[0, 3\], got 5'),
    (dict(out_indices=()), r'out_indices must be a non-empty sequence .*got \(\)'),
    (dict(out_indices=(0, 4)), r'out_indices=\(0, 4\) must lie in \[0, 3\]'),
    (dict(drop_path_rate=-0.1), r'drop_path_rate must be a number in \[0.0, 1.0\], got -0.1'),
    (dict(drop_path_rate=1.5), r'drop_path_rate must be a number in \[0.0, 1.0\], got 1.5'),
    (dict(in_channels=0), r'in_channels must be an integer >= 1, got 0'),
    (dict(base_channels=0), r'base_channels must be an integer >= 1, got 0'),
])
def test_bad_backbone_arguments_every_backbone(name, kwargs, match):
    cfg = {**SMALL[name], 'out_indices': (0, 1, 2, 3), **kwargs}
    cls = MODELS.get(cfg.pop('type'))
    with pytest.raises(ValueError, match=f'^{name}: {match}'):
        cls(**cfg)


def test_frozen_stages_may_freeze_every_stage():
    model = ResNet(depth=18, frozen_stages=4)
    assert not any(p.requires_grad for p in model.parameters())


# --- block_args: the one path from backbone arguments to blocks -----------------------------
def test_block_args_make_a_resnext_of_the_plain_resnet():
    from mmresfam.models.backbones import ResNeXt
    plain = ResNet(depth=50, block_args=dict(groups=32, width_per_group=4))
    resnext = ResNeXt(depth=50)
    assert plain.layer1[0].mid_channels == 128 and plain.layer1[0].conv2.groups == 32
    assert {k: v.shape for k, v in plain.state_dict().items()} == \
        {k: v.shape for k, v in resnext.state_dict().items()}


@pytest.mark.parametrize('kwargs, exc, match', [
    (dict(block_args=[('groups', 2)]), TypeError, 'block_args must be a dict or None'),
    (dict(groups=8, block_args=dict(groups=4)), ValueError,
     r"block_args repeats \['groups'\], which this backbone takes as its own arguments"),
])
def test_block_args_errors(kwargs, exc, match):
    from mmresfam.models.backbones import ResNeXt
    with pytest.raises(exc, match=match):
        ResNeXt(depth=50, **kwargs)


@pytest.mark.parametrize('name', sorted(SMALL))
def test_every_layer_is_built_once(name, monkeypatch):
    """No block builds a conv or a norm and then replaces it: every Conv2d/BatchNorm2d made
    while a residual block is being built is in the finished backbone."""
    import sys
    from mmresfam.models.backbones.resnet import ResidualBlockMixin

    def inside_block():
        frame = sys._getframe(2)
        while frame is not None:
            if isinstance(frame.f_locals.get('self'), ResidualBlockMixin):
                return True
            frame = frame.f_back
        return False

    made = []
    for cls in (torch.nn.Conv2d, torch.nn.BatchNorm2d):
        init = cls.__init__

        def counting_init(self, *args, _init=init, **kwargs):
            _init(self, *args, **kwargs)
            if inside_block():
                made.append(self)

        monkeypatch.setattr(cls, '__init__', counting_init)
    model = MODELS.build(dict(SMALL[name], out_indices=(0, 1, 2, 3)))
    kept = {id(m) for m in model.modules()}
    assert len(made) > 10
    assert all(id(m) in kept for m in made), \
        [type(m).__name__ for m in made if id(m) not in kept]
