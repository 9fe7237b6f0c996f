"""torch.compile of every registered backbone: one graph (fullgraph=True), same numbers.

Dynamo tracing with ``backend='eager'`` is what proves "no graph breaks in our code" and is fast
on a small CPU; one inductor compile (the smallest ResNet) checks the generated code as well.
Each backbone is the smallest member of its family at 32x32.
"""
import pytest
import torch

from analysis._lib.export import small_backbones
from mmresfam.registry import MODELS

SMALL = small_backbones()


def _build(name, **kw):
    torch.manual_seed(0)
    return MODELS.build(dict(SMALL[name], out_indices=(0, 1, 2, 3), **kw))


@pytest.mark.parametrize('name', sorted(SMALL))
def test_fullgraph_compile_train_and_eval(name):
    torch._dynamo.reset()
    model = _build(name)
    x = torch.randn(2, 3, 32, 32)
    compiled = torch.compile(model, backend='eager', fullgraph=True)
    model.eval()
    with torch.no_grad():
        ref = model(x)
        out = compiled(x)
    assert len(out) == 4
    for a, b in zip(out, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    model.train()  # train mode: another graph, with the backward through it
    loss = sum(o.float().mean() for o in compiled(x))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads[:5])


@pytest.mark.parametrize('name', ['ResNet', 'ResNeSt'])
def test_fullgraph_compile_with_checkpointing(name):
    if name not in SMALL:
        pytest.skip(f'{name} is not registered')
    torch._dynamo.reset()
    model = _build(name, with_cp=True)
    model.train()
    x = torch.randn(2, 3, 32, 32)
    # backend 'eager' cannot run a BatchNorm inside a non-reentrant checkpoint (torch raises
    # "modified by an inplace operation" on num_batches_tracked, even for a plain
    # nn.Sequential); AOT autograd (what inductor uses) handles it.
    compiled = torch.compile(model, backend='aot_eager', fullgraph=True)
    sum(o.mean() for o in compiled(x)).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_inductor_compile_matches_eager():
    torch._dynamo.reset()
    model = MODELS.build(dict(type='mmresfam.ResNet', depth=18, base_channels=16,
                              stem_channels=16))
    model.eval()  # mmpretrain's ResNet.train() returns None
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)[-1]
        out = torch.compile(model, fullgraph=True)(x)[-1]
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('name', ['ResNeSt', 'SKNet'])
def test_fullgraph_compile_channels_last(name):
    """The channels-last hooks and the layout-keeping gradients trace in one graph."""
    torch._dynamo.reset()
    model = _build(name, channels_last=True)
    model.train()
    compiled = torch.compile(model, backend='eager', fullgraph=True)
    outs = compiled(torch.randn(2, 3, 32, 32))
    assert len(outs) == 4 and all(o.is_contiguous() for o in outs)
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
