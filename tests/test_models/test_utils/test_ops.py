"""mmresfam.models.utils.ops: same values and gradients as the plain tensor forms, fewer
full-size tensors."""
import pytest
import torch

from mmresfam.models.utils import global_avg_pool, weighted_sum


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
