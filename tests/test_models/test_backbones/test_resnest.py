"""Tests of the ResNeSt backbone (Zhang et al. 2020): shapes, MMPreTrain checkpoint parity,
parameter counts/FLOPs, the standard ResNet arguments and the error messages."""
import pytest
import torch
import torch.nn as nn
from mmpretrain.models import ResNeSt as MMPreResNeSt
from torch.nn.modules.batchnorm import _BatchNorm

from analysis._lib.references import randomize_norms_
from mmresfam.models.attentions import SplitAttentionConv2d
from mmresfam.models.backbones import ResNeSt, ResNeStBottleneck
from mmresfam.registry import MODELS


def _small(**kwargs):
    kwargs.setdefault('depth', 14)
    return ResNeSt(**kwargs)


def test_registered_and_shapes_at_every_out_index():
    m = MODELS.build(dict(type='mmresfam.ResNeSt', depth=50, out_indices=(0, 1, 2, 3)))
    assert isinstance(m, ResNeSt)
    assert m.out_channels == [256, 512, 1024, 2048]
    m.eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 16, 16), (1, 512, 8, 8),
                                              (1, 1024, 4, 4), (1, 2048, 2, 2)]
    for idx in range(4):
        m = _small(out_indices=(idx, ))
        m.eval()
        (out, ) = m(torch.randn(1, 3, 64, 64))
        assert out.shape == (1, 256 * 2**idx, 16 // 2**idx, 16 // 2**idx)


def test_structure_matches_the_paper():
    m = ResNeSt(depth=50)
    # deep stem 32-32-64 (official stem_width=32), 128 for the 101+ configs
    assert [m.stem[i].conv.out_channels for i in range(3)] == [32, 32, 64]
    assert ResNeSt(depth=101, stem_channels=128).stem[2].conv.out_channels == 128
    blk = m.layer2[0]
    assert isinstance(blk, ResNeStBottleneck) and isinstance(blk.conv2, SplitAttentionConv2d)
    assert not hasattr(blk, 'bn2')
    assert blk.avd_position == 'last' and blk.avg_down_stride
    assert blk.avd_layer.stride == 2 and blk.conv2.conv.stride == (1, 1)
    assert isinstance(blk.downsample[0], nn.AvgPool2d)  # avg_down shortcut
    assert m.layer1[0].avd_position is None and not hasattr(m.layer1[0], 'avd_layer')
    assert isinstance(m.layer1[0].downsample[0], nn.Conv2d)  # no pool at stride 1
    assert blk.conv2.radix == 2 and blk.conv2.groups == 1
    assert blk.conv2.inter_channels == max(128 * 2 // 4, 32)


def test_avd_modes():
    x = torch.randn(2, 64, 8, 8)
    for kwargs, pos in [(dict(avd=True), 'last'), (dict(avd_first=True), 'first'),
                        (dict(avd='first'), 'first'), (dict(avd='last'), 'last'),
                        (dict(avd=False), None)]:
        blk = ResNeStBottleneck(64, 256, stride=2, **kwargs)
        assert blk.avd_position == pos
        assert blk.conv2.conv.stride == ((1, 1) if pos else (2, 2))
        assert blk.residual(x).shape == (2, 256, 4, 4)
    first = ResNeStBottleneck(64, 256, stride=2, avd='first')
    last = ResNeStBottleneck(64, 256, stride=2, avd='last')
    last.load_state_dict(first.state_dict())
    first.eval()
    last.eval()
    assert not torch.allclose(first.residual(x), last.residual(x))


def test_groups_and_base_width():
    m = ResNeSt(depth=50, groups=2, base_width=40, radix=4, avd_first=True)
    widths = [getattr(m, f'layer{i}')[0].conv2.channels for i in range(1, 5)]
    assert widths == [80, 160, 320, 640]  # "4s2x40d"
    assert m.layer1[0].conv1.out_channels == 80 and m.layer1[0].conv3.in_channels == 80
    # mmpretrain's name of the same argument
    m2 = ResNeSt(depth=50, groups=2, width_per_group=40, radix=4, avd_first=True)
    assert m2.width_per_group == 40
    assert {k: v.shape for k, v in m.state_dict().items()} == \
        {k: v.shape for k, v in m2.state_dict().items()}


@pytest.mark.parametrize('depth,stem', [(50, 64), (101, 128)])
def test_mmpretrain_checkpoint_loads_strict_and_gives_same_output(depth, stem):
    torch.manual_seed(0)
    ref = MMPreResNeSt(depth=depth, stem_channels=stem, out_indices=(0, 1, 2, 3))
    randomize_norms_(ref)
    ours = ResNeSt(depth=depth, stem_channels=stem, out_indices=(0, 1, 2, 3))
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert set(ours.state_dict()) == set(ref.state_dict())
    ref.eval()
    ours.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ref(x), ours(x)):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-5)


def test_mmpretrain_style_config_arguments():
    cfg = dict(type='mmresfam.ResNeSt', depth=50, num_stages=4, out_indices=(3, ),
               style='pytorch', groups=1, width_per_group=4, radix=2, reduction_factor=4,
               avg_down_stride=True)
    m = MODELS.build(cfg)
    assert m.layer2[0].avd_position == 'last'
    assert MODELS.build(dict(cfg, avg_down_stride=False)).layer2[0].avd_position is None


# params with a 1000-class linear head (paper / timm / mmpretrain) and the backbone alone
@pytest.mark.parametrize('depth,stem,with_head,backbone', [
    (50, 64, 27.48, 25.43), (101, 128, 48.28, 46.23), (200, 128, 70.2, 68.15),
    (269, 128, 110.93, 108.88)])
def test_parameter_counts(depth, stem, with_head, backbone):
    m = ResNeSt(depth=depth, stem_channels=stem)
    n = sum(p.numel() for p in m.parameters()) / 1e6
    head = (2048 * 1000 + 1000) / 1e6
    assert abs(n - backbone) / backbone < 0.005, n
    assert abs(n + head - with_head) / with_head < 0.005, n + head


def test_flops_resnest50():
    from mmengine.analysis import get_model_complexity_info
    m = ResNeSt(depth=50)
    m.eval()
    info = get_model_complexity_info(m, input_shape=(3, 224, 224), show_table=False,
                                     show_arch=False)
    assert abs(info['flops'] / 1e9 - 5.4) < 0.05, info['flops']  # multiply-accumulates


def test_frozen_stages():
    m = _small(frozen_stages=2)
    m.train()
    for name in ('stem', 'layer1', 'layer2'):
        mod = getattr(m, name)
        assert all(not p.requires_grad for p in mod.parameters())
        assert all(not bn.training for bn in mod.modules() if isinstance(bn, _BatchNorm))
    for name in ('layer3', 'layer4'):
        mod = getattr(m, name)
        assert all(p.requires_grad for p in mod.parameters())
        assert all(bn.training for bn in mod.modules() if isinstance(bn, _BatchNorm))
    out = m(torch.randn(2, 3, 64, 64))[-1]
    out.sum().backward()
    assert m.layer1[0].conv2.fc1.weight.grad is None
    assert m.layer3[0].conv2.fc1.weight.grad is not None


def test_norm_eval():
    m = _small(norm_eval=True)
    m.train()
    bns = [bn for bn in m.modules() if isinstance(bn, _BatchNorm)]
    assert bns and all(not bn.training for bn in bns)
    before = m.layer2[0].conv2.bn1.running_mean.clone()
    m(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(m.layer2[0].conv2.bn1.running_mean, before)


def test_with_cp_same_output_and_gradients():
    torch.manual_seed(0)
    a = _small(out_indices=(3, ))
    b = _small(out_indices=(3, ), with_cp=True)
    b.load_state_dict(a.state_dict())
    randomize_norms_(a)
    randomize_norms_(b)
    a.eval()
    b.eval()  # deterministic BN; checkpointing recomputes the forward
    assert all(blk.with_cp for blk in b.layer1)
    x = torch.randn(2, 3, 64, 64)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    (oa, ), (ob, ) = a(xa), b(xb)
    torch.testing.assert_close(oa, ob)
    oa.sum().backward()
    ob.sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(a.layer2[0].conv2.fc2.weight.grad,
                               b.layer2[0].conv2.fc2.weight.grad)


def test_drop_path_one_returns_activated_shortcut():
    # the stochastic-depth schedule ends at drop_path_rate: the last block drops with p=1
    m = _small(drop_path_rate=1.0)
    blk = m.layer4[-1]
    assert blk.drop_path.drop_prob == pytest.approx(1.0)
    assert isinstance(m.layer1[0].drop_path, nn.Identity)  # first block: p=0
    randomize_norms_(blk)
    blk.train()
    x = torch.randn(2, 1024, 4, 4)
    torch.testing.assert_close(blk(x), torch.relu(blk.downsample(x)))
    blk.eval()  # drop path is off in eval: the residual branch counts again
    assert not torch.allclose(blk(x), torch.relu(blk.downsample(x)))


def test_plugins():
    m = _small(plugins=[
        dict(cfg=dict(type='ContextBlock', ratio=1. / 4), position='after_conv3',
             stages=(False, True, True, True)),
        dict(cfg=dict(type='mmresfam.SplitAttentionConv2d'), position='after_conv2',
             stages=(True, False, False, False)),
    ], out_indices=(0, 3))
    assert m.layer1[0].plugin_names['after_conv2'] and not m.layer1[0].plugin_names[
        'after_conv3']
    assert m.layer2[0].plugin_names['after_conv3']
    m.train()
    outs = m(torch.randn(2, 3, 64, 64))
    assert outs[0].shape == (2, 256, 16, 16) and outs[1].shape == (2, 2048, 2, 2)


@pytest.mark.parametrize('contract', [False, True])
def test_dilated_output_stride_8(contract):
    m = _small(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(0, 1, 2, 3),
               contract_dilation=contract)
    m.eval()
    outs = m(torch.randn(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [16, 8, 8, 8]
    blk = m.layer4[0]
    assert blk.avd_position is None  # stride 1: no avd pool
    assert blk.conv2.conv.dilation == ((2, 2) if contract else (4, 4))


def test_batch_of_one_in_training():
    """Documented: with a batch of 1 the attention BNs use their running statistics instead of
    raising "Expected more than 1 value per channel when training"."""
    m = _small()
    m.train()
    out = m(torch.randn(1, 3, 64, 64))[-1]
    out.mean().backward()
    assert m.layer1[0].conv2.bn1.num_batches_tracked.item() == 0
    assert m.layer1[0].conv2.bn0.num_batches_tracked.item() == 1


def test_zero_init_residual_and_pretrained():
    m = _small()
    m.init_weights()
    assert all(float(blk.norm3.weight.abs().sum()) == 0 for blk in m.layer1)
    with pytest.warns(DeprecationWarning):
        p = _small(pretrained='some.pth')
    assert p.init_cfg == dict(type='Pretrained', checkpoint='some.pth')


def test_compiles_without_graph_breaks():
    m = _small(drop_path_rate=0.1)
    m.train()
    compiled = torch.compile(m, backend='eager', fullgraph=True)
    assert compiled(torch.randn(2, 3, 64, 64))[-1].shape == (2, 2048, 2, 2)


@pytest.mark.parametrize('kwargs,err,match', [
    (dict(radix=0), ValueError, 'radix must be an integer >= 1'),
    (dict(groups=0), ValueError, 'groups must be an integer >= 1'),
    (dict(radix=3), ValueError, r'must be divisible by groups \* radix=3'),
    (dict(groups=3, base_width=5), ValueError, r'must be divisible by groups \* radix=6'),
    (dict(avd='middle'), ValueError,
     r"avd='middle' is not supported; allowed values are \[True, False, 'first', 'last'\]"),
    (dict(avd='last', avd_first=True), ValueError, 'contradicts avd_first=True'),
    (dict(depth=18), KeyError, r'invalid depth=18; allowed depths are \[14, 26, 50, 101, 152, '
     r'200, 269\]'),
    (dict(base_width=40), ValueError, r'allowed values with groups=1 are \[4, 64\]'),
    (dict(width_per_group=8, base_width=16), ValueError, 'give base_width or its alias'),
    (dict(reduction_factor=0), ValueError, 'reduction_factor must be an integer >= 1'),
])
def test_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        _small(**kwargs)
