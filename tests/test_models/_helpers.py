"""Checks shared by the backbone and attention tests (import as ``test_models._helpers``).

Each helper holds assertions that several test files made word for word; the tests call them
with their own models and inputs.
"""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm


def randomise_bn(module, seed=0):
    """Non-trivial BN statistics and affine parameters (seeded), so that a misplaced or
    missing norm changes the output."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def assert_stage_shapes(model, channels, size):
    """In eval mode, ``model.out_channels == channels`` and a ``size`` x ``size`` image gives
    one output per stage at strides 4, 8, 16, 32 with those channels; returns the outputs."""
    model.eval()
    assert model.out_channels == channels
    outs = model(torch.randn(1, 3, size, size))
    assert [tuple(o.shape) for o in outs] == [(1, c, size // 4 // 2**i, size // 4 // 2**i)
                                              for i, c in enumerate(channels)]
    return outs


def assert_grads_reach_every_parameter(module, x=None):
    """After a backward pass: the input ``x`` (if given) and every parameter of ``module`` got
    a non-zero gradient."""
    if x is not None:
        assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def assert_one_graph(module, x):
    """``torch.compile(fullgraph=True)`` (one graph, the backbone's layout hooks included)
    gives the eager output."""
    torch._dynamo.reset()
    compiled = torch.compile(module, backend='eager', fullgraph=True)
    with torch.no_grad():
        out, ref = compiled(x), module(x)
    for a, b in zip(out, ref, strict=True):
        torch.testing.assert_close(a, b)


def assert_compiles_and_records(module, x, record):
    """``torch.compile(fullgraph=True)`` gives the eager output, with ``record_attention`` set
    to ``record``, and a map is stored exactly when recording."""
    torch._dynamo.reset()
    module.record_attention = record
    compiled = torch.compile(module, backend='eager', fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), module(x))
    assert (module.last_attention_map is not None) == record


def assert_frozen_stages(model, frozen, trainable, x):
    """In train mode: ``frozen`` modules have no trainable parameter and their BNs stay in eval
    mode, ``trainable`` ones the opposite; backpropagating from the last output leaves the
    frozen parameters without gradient (or, with nothing trainable, the output needs none)."""
    for m in frozen:
        assert all(not p.requires_grad for p in m.parameters())
        assert all(not bn.training for bn in m.modules() if isinstance(bn, _BatchNorm))
    for m in trainable:
        assert all(p.requires_grad for p in m.parameters())
        assert all(bn.training for bn in m.modules() if isinstance(bn, _BatchNorm))
    out = model(x)[-1]
    if trainable:
        out.sum().backward()
        assert all(p.grad is None for m in frozen for p in m.parameters())
    else:
        assert not out.requires_grad


def assert_full_drop_path_keeps_shortcut(last, first):
    """``last`` (the final block, drop_path_rate=1.0 through the linear rule) and ``first`` (a
    block with a downsample, set to 1.0 here) return only their activated shortcut."""
    assert last.drop_path.drop_prob == pytest.approx(1.0)
    first.drop_path.drop_prob = 1.0
    for block in (last, first):
        x = torch.randn(2, block.in_channels, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(block(x), torch.relu(block.shortcut(x)))
            # and the residual branch is really non-zero, so the test can fail
            assert block.residual(x).abs().sum() > 0
