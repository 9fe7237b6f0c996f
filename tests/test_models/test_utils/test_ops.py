"""mmresfam.models.utils.ops: same values and gradients as the plain tensor forms, fewer
full-size tensors."""
import pytest
import torch

import torch.nn as nn

from mmresfam.models.utils import global_avg_pool, pointwise_conv, weighted_sum


def test_global_avg_pool_matches_mean_and_its_gradient_is_a_broadcast_view():
    x = torch.randn(2, 3, 5, 7, dtype=torch.double, requires_grad=True)
    out = global_avg_pool(x)
    assert out.shape == (2, 3, 1, 1)
    torch.testing.assert_close(out, x.mean(dim=(2, 3), keepdim=True))
    g = torch.randn_like(out)
    (grad,) = torch.autograd.grad(out, x, g)
    (ref,) = torch.autograd.grad(x.mean(dim=(2, 3), keepdim=True), x, g)
    torch.testing.assert_close(grad, ref)
    assert grad.stride()[-2:] == (0, 0)  # no (B, C, H, W) gradient was written
    assert torch.autograd.gradcheck(global_avg_pool, (x, ))


@pytest.mark.parametrize('radix', [1, 2, 4])
def test_weighted_sum_matches_the_plain_form(radix):
    feats = torch.randn(2, radix, 6, 4, 5, dtype=torch.double, requires_grad=True)
    weights = torch.randn(2, radix, 6, 1, 1, dtype=torch.double, requires_grad=True)
    out = weighted_sum(feats, weights)
    ref = (feats * weights).sum(dim=1)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(ref)
    torch.testing.assert_close(torch.autograd.grad(out, (feats, weights), g),
                               torch.autograd.grad(ref, (feats, weights), g))
    assert torch.autograd.gradcheck(weighted_sum, (feats, weights))


def test_weighted_sum_of_a_view_leaves_the_input_alone():
    x = torch.randn(2, 8, 3, 3)
    before = x.clone()
    weighted_sum(x.view(2, 2, 4, 3, 3), torch.rand(2, 2, 4, 1, 1))
    assert torch.equal(x, before)


def test_weighted_sum_only_computes_the_gradients_asked_for():
    feats = torch.randn(2, 2, 3, 4, 4, requires_grad=True)
    weights = torch.rand(2, 2, 3, 1, 1)
    weighted_sum(feats, weights).sum().backward()
    assert feats.grad is not None and weights.grad is None


@pytest.mark.parametrize('feats_shape,weights_shape', [((2, 2, 3, 4, 4), (2, 2, 3)),
                                                        ((2, 2, 3, 4, 4), (2, 3, 3, 1, 1)),
                                                        ((2, 6, 4, 4), (2, 2, 3, 1, 1))])
def test_weighted_sum_rejects_mismatched_shapes(feats_shape, weights_shape):
    with pytest.raises(ValueError, match=r'weighted_sum expects feats \(B, R, C, H, W\)'):
        weighted_sum(torch.randn(feats_shape), torch.randn(weights_shape))


def test_both_compile_without_graph_breaks():
    def f(x):
        gap = global_avg_pool(x).view(2, 2, 3, 1, 1)
        return weighted_sum(x.view(2, 2, 3, 4, 4), gap.softmax(dim=1))

    x = torch.randn(2, 6, 4, 4, requires_grad=True)
    compiled = torch.compile(f, fullgraph=True, backend='aot_eager')
    out = compiled(x)
    torch.testing.assert_close(out, f(x))
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_weighted_sum_gradient_keeps_the_features_layout():
    """A channels-last ``(B, R*C, H, W)`` map viewed as ``(B, R, C, H, W)`` gets its gradient
    in the same strides (a contiguous one would slow every later elementwise backward)."""
    x = torch.randn(2, 6, 5, 5).contiguous(memory_format=torch.channels_last).requires_grad_()
    w = torch.rand(2, 2, 3, 1, 1, requires_grad=True)
    out = weighted_sum(x.view(2, 2, 3, 5, 5), w)
    grad = torch.randn_like(out)
    gx, gw = torch.autograd.grad(out, (x, w), grad)
    assert gx.is_contiguous(memory_format=torch.channels_last)
    ref = (x.detach().view(2, 2, 3, 5, 5) * w.detach()).sum(1)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(gx.view(2, 2, 3, 5, 5), grad.unsqueeze(1) * w.detach().expand(
        2, 2, 3, 5, 5))
    torch.testing.assert_close(gw, (x.detach().view(2, 2, 3, 5, 5) * grad.unsqueeze(1)).sum(
        (-2, -1), keepdim=True))


# --- mixed precision: the output has the features' dtype, each gradient its input's ---------
U = 2.0**-8  # bf16 rounding unit (8 significant bits)


def _rel_err(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def test_weighted_sum_with_fp32_weights_keeps_the_features_dtype():
    """Under CUDA autocast the softmaxed weights are fp32 and the features fp16/bf16: the plain
    ``(feats * weights).sum(1)`` would return an fp32 map. Ours rounds the weights to the
    features' dtype: bf16 out, the features' gradient in bf16, the weights' in fp32 (summed in
    fp32), all within a few roundings of the exact (fp64) values."""
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 8, 5, 6).to(torch.bfloat16).requires_grad_()
    weights = torch.rand(2, 3, 8, 1, 1).softmax(dim=1).requires_grad_()
    out = weighted_sum(feats, weights)
    assert out.dtype == torch.bfloat16
    grad = torch.randn(out.shape).to(torch.bfloat16)
    gf, gw = torch.autograd.grad(out, (feats, weights), grad)
    assert gf.dtype == torch.bfloat16 and gw.dtype == torch.float32
    f64, w64 = feats.detach().double().requires_grad_(), weights.detach().double().requires_grad_()
    ref = (f64 * w64).sum(dim=1)
    rf, rw = torch.autograd.grad(ref, (f64, w64), grad.double())
    assert _rel_err(out, ref) < 2 * U      # the weights' rounding + the sum's
    assert _rel_err(gf, rf) < 2 * U
    assert _rel_err(gw, rw) < 2 * U        # only the bf16 products round


def test_weighted_sum_of_fp32_features_with_bf16_weights_is_exact_fp32():
    feats = torch.randn(2, 2, 4, 3, 3)
    weights = torch.rand(2, 2, 4, 1, 1).to(torch.bfloat16)
    out = weighted_sum(feats, weights)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, (feats * weights.float()).sum(1), rtol=0, atol=1e-6)


@pytest.mark.parametrize('channels_last', [False, True])
def test_both_under_bf16_autocast(channels_last):
    """As split attention uses them, inside ``torch.autocast('cpu', torch.bfloat16)``: bf16
    out, finite bf16 gradient for the bf16 input, close to fp64."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, 5, 5).to(torch.bfloat16)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    x64 = x.detach().double().requires_grad_()

    def f(x, pool, wsum):
        gap = pool(x).view(2, 2, 3, 1, 1)
        return wsum(x.view(2, 2, 3, 5, 5), gap.softmax(dim=1))

    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = f(x, global_avg_pool, weighted_sum)
    ref = f(x64, lambda t: t.mean((-2, -1), keepdim=True), lambda a, b: (a * b).sum(1))
    assert out.dtype == torch.bfloat16
    grad = torch.randn(out.shape, dtype=torch.float64)
    (gx, ) = torch.autograd.grad(out, x, grad.to(torch.bfloat16))
    (rx, ) = torch.autograd.grad(ref, x64, grad)
    assert gx.dtype == torch.bfloat16 and torch.isfinite(gx).all()
    assert _rel_err(out, ref) < 4 * U and _rel_err(gx, rx) < 8 * U


@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('channels_last', [False, True])
def test_pointwise_conv_is_the_conv_of_pooled_vectors(bias, channels_last):
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 4, 1, bias=bias).double()
    if channels_last:  # as in a channels-last backbone
        conv = conv.to(memory_format=torch.channels_last)
    x = torch.randn(3, 6, 1, 1, dtype=torch.double, requires_grad=True)
    out, ref = pointwise_conv(conv, x), conv(x)
    assert out.shape == ref.shape == (3, 4, 1, 1)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(ref)
    params = (x, *conv.parameters())
    torch.testing.assert_close(torch.autograd.grad(out, params, g),
                               torch.autograd.grad(ref, params, g))


class _CountingConv(nn.Conv2d):
    calls = 0

    def forward(self, x):
        type(self).calls += 1
        return super().forward(x)


@pytest.mark.parametrize('case', ['grouped', 'spatial', 'subclass', 'strided'])
def test_pointwise_conv_leaves_other_convs_to_their_forward(case):
    conv = {'grouped': _CountingConv(4, 4, 1, groups=2), 'spatial': _CountingConv(4, 4, 1),
            'subclass': _CountingConv(4, 4, 1), 'strided': _CountingConv(4, 4, 1, stride=2)}
    conv = conv[case]
    x = torch.randn(2, 4, 3, 3) if case == 'spatial' else torch.randn(2, 4, 1, 1)
    _CountingConv.calls = 0
    torch.testing.assert_close(pointwise_conv(conv, x), nn.Conv2d.forward(conv, x))
    assert _CountingConv.calls == 1  # the subclass's own forward ran


def test_pointwise_conv_under_bf16_autocast_gives_what_the_conv_gives():
    conv = nn.Conv2d(8, 4, 1)
    x = torch.randn(2, 8, 1, 1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out, ref = pointwise_conv(conv, x), conv(x)
    assert out.dtype == ref.dtype == torch.bfloat16
    torch.testing.assert_close(out, ref, rtol=1e-2, atol=1e-2)
