"""mmresfam.models.utils.ops: same values and gradients as the plain tensor forms, fewer
full-size passes."""
import pytest
import torch

import torch.nn as nn

from mmresfam.models.utils import attention_sum, ops, pointwise_conv


def _plain(feats, logits_fn):
    """The reference: pool, score, softmax, weighted sum, all plain tensor ops."""
    weights = logits_fn(feats.mean(dim=(-2, -1), keepdim=True)).softmax(dim=1)
    return (feats * weights.to(feats.dtype)).sum(dim=1)


class _Attention(nn.Module):
    """A small attention MLP on the pooled means, shaped as split/SK attention's."""

    def __init__(self, radix, channels, dtype=torch.double):
        super().__init__()
        self.radix, self.channels = radix, channels
        self.fc1 = nn.Linear(channels, 4).to(dtype)
        self.fc2 = nn.Linear(4, radix * channels).to(dtype)

    def forward(self, pooled):
        hidden = torch.relu(self.fc1(pooled.sum(dim=1).flatten(1)))
        return self.fc2(hidden).view(-1, self.radix, self.channels, 1, 1)


def _feats(radix, channels_last, dtype=torch.double, batch=2, channels=3, size=(5, 4)):
    x = torch.randn(batch, radix * channels, *size, dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x.requires_grad_()


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('radix', [1, 2, 3])
def test_attention_sum_matches_the_plain_form(radix, channels_last):
    """Values and every gradient (features and attention parameters) equal the plain ops'."""
    torch.manual_seed(radix)
    att = _Attention(radix, 3)
    x = _feats(radix, channels_last)
    out = attention_sum(x.view(2, radix, 3, 5, 4), att)
    ref = _plain(x.view(2, radix, 3, 5, 4), att)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(ref)
    params = (x, *att.parameters())
    torch.testing.assert_close(torch.autograd.grad(out, params, g),
                               torch.autograd.grad(ref, params, g))
    assert torch.autograd.gradcheck(lambda t: attention_sum(t.view(2, radix, 3, 5, 4), att),
                                     (x, ))


class _OpsCalled:
    """Records which op writes the features' gradient (``_in_memory_order``'s ``op``)."""

    def __init__(self, monkeypatch):
        self.ops = []
        real = ops._in_memory_order

        def spy(order, op, *operands):
            self.ops.append(op)
            return real(order, op, *operands)

        monkeypatch.setattr(ops, '_in_memory_order', spy)


def test_the_features_gradient_is_written_once_by_the_pooling(monkeypatch):
    """Logits computed from the pooled means: the weighted sum hands its gradient over and the
    pooling's backward writes the whole features' gradient in one ``addcmul``; no product, no
    broadcast view to add afterwards."""
    called = _OpsCalled(monkeypatch)
    att, x = _Attention(2, 3), _feats(2, True)
    gx, = torch.autograd.grad(attention_sum(x.view(2, 2, 3, 5, 4), att).sum(), x)
    assert called.ops == [torch.addcmul]
    assert gx.stride() == x.stride()


@pytest.mark.parametrize('case', ['ignores_the_means', 'detached'])
def test_logits_not_from_the_means_still_give_every_gradient(case, monkeypatch):
    """Without a graph path from the logits to the pooled means, the pooling's backward never
    runs: the weighted sum then writes its own gradient of the features."""
    called = _OpsCalled(monkeypatch)
    logits = torch.randn(2, 2, 3, 1, 1, dtype=torch.double, requires_grad=True)
    if case == 'ignores_the_means':
        def logits_fn(pooled):
            return logits
    else:
        def logits_fn(pooled):
            return logits + pooled.detach()
    x = _feats(2, False)
    out = attention_sum(x.view(2, 2, 3, 5, 4), logits_fn)
    ref = _plain(x.view(2, 2, 3, 5, 4), logits_fn)
    g = torch.randn_like(ref)
    torch.testing.assert_close(torch.autograd.grad(out, (x, logits), g),
                               torch.autograd.grad(ref, (x, logits), g))
    assert called.ops == [torch.mul]


def test_attention_sum_backward_twice_with_retain_graph():
    att, x = _Attention(2, 3), _feats(2, True)
    out = attention_sum(x.view(2, 2, 3, 5, 4), att).sum()
    first, = torch.autograd.grad(out, x, retain_graph=True)
    second, = torch.autograd.grad(out, x)
    torch.testing.assert_close(first, second)


def test_attention_sum_only_computes_the_gradients_asked_for():
    att = _Attention(2, 3).requires_grad_(False)
    x = _feats(2, False)
    attention_sum(x.view(2, 2, 3, 5, 4), att).sum().backward()
    assert x.grad is not None and all(p.grad is None for p in att.parameters())
    x2 = _feats(2, False).requires_grad_(False)
    att.requires_grad_(True)
    attention_sum(x2.view(2, 2, 3, 5, 4), att).sum().backward()
    assert all(p.grad is not None for p in att.parameters())


def test_attention_sum_leaves_the_input_alone_and_keeps_its_layout():
    """A channels-last ``(B, R*C, H, W)`` map viewed as ``(B, R, C, H, W)``: output and
    gradient come out channels-last (a contiguous gradient would slow every later elementwise
    backward), the input is unchanged."""
    x = _feats(2, True, dtype=torch.float, channels=4)
    before = x.detach().clone()
    out = attention_sum(x.view(2, 2, 4, 5, 4), _Attention(2, 4, torch.float))
    assert out.is_contiguous(memory_format=torch.channels_last)
    gx, = torch.autograd.grad(out, x, torch.randn_like(out))
    assert gx.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x.detach(), before)


def test_attention_sum_without_autograd_is_the_same():
    att, x = _Attention(3, 3), _feats(3, False)
    with torch.no_grad():
        torch.testing.assert_close(attention_sum(x.view(2, 3, 3, 5, 4), att),
                                   _plain(x.view(2, 3, 3, 5, 4), att))


@pytest.mark.parametrize('shape,logits_shape,match', [
    ((2, 6, 5, 4), (2, 2, 3, 1, 1), r'attention_sum expects feats \(B, R, C, H, W\), got '
     r'\(2, 6, 5, 4\)'),
    ((2, 2, 3, 5, 4), (2, 6, 1, 1), r'logits_fn must return logits of shape \(B, R, C, 1, '
     r'1\) = \(2, 2, 3, 1, 1\), got \(2, 6, 1, 1\)'),
])
def test_attention_sum_rejects_mismatched_shapes(shape, logits_shape, match):
    with pytest.raises(ValueError, match=match):
        attention_sum(torch.randn(shape), lambda pooled: torch.zeros(logits_shape))


def test_attention_sum_compiles_without_graph_breaks():
    att = _Attention(2, 3, torch.float)

    def f(x):
        return attention_sum(x.view(2, 2, 3, 4, 4), att)

    x = torch.randn(2, 6, 4, 4, requires_grad=True)
    compiled = torch.compile(f, fullgraph=True, backend='aot_eager')
    out = compiled(x)
    torch.testing.assert_close(out, f(x))
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


# --- mixed precision: the output has the features' dtype, each gradient its input's ---------
U = 2.0**-8  # bf16 rounding unit (8 significant bits)


def _rel_err(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.mark.parametrize('radix', [2, 3])
def test_attention_sum_with_fp32_logits_keeps_the_features_dtype(radix):
    """Under CUDA autocast the logits (and softmax) are fp32 and the features fp16/bf16: the
    plain ``(feats * weights).sum(1)`` would return an fp32 map. Ours rounds the weights to the
    features' dtype: bf16 out, the features' gradient in bf16, the logits' in fp32, all within
    a few roundings of the exact (fp64) values."""
    torch.manual_seed(0)
    feats = torch.randn(2, radix, 8, 5, 6).to(torch.bfloat16).requires_grad_()
    logits = torch.randn(2, radix, 8, 1, 1, requires_grad=True)

    def logits_fn(pooled):
        return logits + 0.1 * pooled.float()

    out = attention_sum(feats, logits_fn)
    assert out.dtype == torch.bfloat16
    grad = torch.randn(out.shape).to(torch.bfloat16)
    gf, gl = torch.autograd.grad(out, (feats, logits), grad)
    assert gf.dtype == torch.bfloat16 and gl.dtype == torch.float32
    f64, l64 = feats.detach().double().requires_grad_(), logits.detach().double().requires_grad_()
    ref = _plain(f64, lambda pooled: l64 + 0.1 * pooled)
    rf, rl = torch.autograd.grad(ref, (f64, l64), grad.double())
    assert _rel_err(out, ref) < 2 * U      # the weights' rounding + the sum's
    assert _rel_err(gf, rf) < 2 * U
    assert _rel_err(gl, rl) < 4 * U        # only the bf16 products round


@pytest.mark.parametrize('channels_last', [False, True])
def test_attention_sum_under_bf16_autocast(channels_last):
    """As split attention uses it, inside ``torch.autocast('cpu', torch.bfloat16)``: bf16
    out, finite bf16 gradient for the bf16 input, close to fp64."""
    torch.manual_seed(0)
    x = _feats(2, channels_last, dtype=torch.float).detach().to(torch.bfloat16)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    x64 = x.detach().double().requires_grad_()
    att = _Attention(2, 3, torch.float)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = attention_sum(x.view(2, 2, 3, 5, 4), att)
    att64 = _Attention(2, 3)
    att64.load_state_dict(att.state_dict())
    ref = _plain(x64.view(2, 2, 3, 5, 4), att64)
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
