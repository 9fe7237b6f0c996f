"""Mixed precision: every registered backbone (its smallest member) and every attention module
under ``torch.autocast('cpu', dtype=torch.bfloat16)``, forward and backward.

Checked: the outputs have the features' dtype (bf16 behind the first conv, so no fp32 map
leaks into the next layer), every gradient is finite and has its tensor's dtype, and outputs
and gradients are close to the fp32 ones.

Tolerances. bf16 keeps 8 significant bits, so one rounding moves a value by up to
``u = 2**-8 = 3.9e-3`` (relative). Errors are relative L2 norms over a whole tensor
(``|a - b| / |b|``), so that entries that cancel out do not dominate. Both runs get the same
input values (already bf16) and the same weights; the comparison is in eval mode with random
BN statistics: a training-mode BN on the 1x1 last stage of a 32 px input normalises 2 values
per channel, ``(x - mean) / std`` is then +-1 with the sign of a difference that one rounding
can flip, and no precision makes that comparable (training mode is run too, for the dtypes and
finite gradients).

* an attention module rounds a few times: outputs within ``4u``, gradients within ``12u``
  (measured, 3 seeds: outputs <= 0.004 ~ u, gradients <= 0.015);
* a backbone rounds once per layer (20-80 layers here); independent rounding errors add like a
  random walk, ``sqrt(L) u`` = 0.02-0.035: outputs within 0.05 (measured <= 0.0073), parameter
  gradients within 0.05 (measured <= 0.014); the input gradient goes back through every layer
  after the forward's roundings, within 0.2 (measured 0.014-0.064; ResNeSt-50 gives 0.082 both
  here and as MMPreTrain's ResNeSt, which uses plain tensor ops, with the same weights).

A wrong computation in bf16 (a NaN std, a gate applied twice, a mis-cast weight) gives errors
of order 1; an fp32 leak is caught by the dtype checks, not by the tolerances.
"""
import pytest
import torch

from mmresfam.models import attentions, backbones
from mmresfam.registry import MODELS
from test_models._helpers import randomise_bn

BF16 = torch.bfloat16
U = 2.0**-8
MODULE_OUT, MODULE_GRAD = 4 * U, 12 * U
NET_OUT, NET_PARAM_GRAD, NET_INPUT_GRAD = 0.05, 0.05, 0.2


def _registered(package):
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and cls.__module__.startswith(package.__name__))


def _rel_err(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def _finite_grads(module):
    return all(torch.isfinite(p.grad).all() and p.grad.dtype == p.dtype
               for p in module.parameters() if p.grad is not None)


# --- backbones -------------------------------------------------------------------------------
# classes whose smallest member is not the smallest integer depth of ``arch_settings``
SMALLEST = {'ResidualAttentionNet': dict(arch='attention56-cifar')}


def _smallest_backbone(name):
    """Config of the smallest member of backbone class ``name``, every stage out."""
    cfg = dict(type=f'mmresfam.{name}', out_indices=(0, 1, 2, 3))
    if name in SMALLEST:
        return dict(cfg, **SMALLEST[name])
    return dict(cfg, depth=min(MODELS.get(name).arch_settings))


def _run(model, x, amp):
    """Outputs, input gradient and flattened parameter gradients of ``sum(out ** 2)``."""
    model.zero_grad()
    x = x.clone().requires_grad_()
    with torch.autocast('cpu', dtype=BF16, enabled=amp):
        outs = model(x)
    outs = [outs] if isinstance(outs, torch.Tensor) else list(outs)
    sum(o.float().square().sum() for o in outs).backward()
    assert _finite_grads(model)
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return outs, x.grad, grads


@pytest.mark.parametrize('name', _registered(backbones))
def test_backbone_under_bf16_autocast(name):
    torch.manual_seed(0)
    model = MODELS.build(_smallest_backbone(name))
    randomise_bn(model)
    model.eval()
    x = torch.randn(2, 3, 32, 32).to(BF16).float()
    outs32, gx32, grads32 = _run(model, x, amp=False)
    outs, gx, grads = _run(model, x, amp=True)
    assert len(outs) == 4 and all(o.dtype == BF16 for o in outs)
    assert gx.dtype == torch.float32 and torch.isfinite(gx).all()
    for o, o32 in zip(outs, outs32):
        assert _rel_err(o, o32) < NET_OUT, _rel_err(o, o32)
    assert _rel_err(grads, grads32) < NET_PARAM_GRAD, _rel_err(grads, grads32)
    assert _rel_err(gx, gx32) < NET_INPUT_GRAD, _rel_err(gx, gx32)
    model.train()  # a training step's dtypes: bf16 features, finite fp32 gradients
    outs, gx, grads = _run(model, x, amp=True)
    assert all(o.dtype == BF16 and torch.isfinite(o).all() for o in outs)
    assert torch.isfinite(gx).all() and grads.abs().sum() > 0


# --- attention modules -----------------------------------------------------------------------
# every registered attention module with 16 input channels (arguments that fit 16 channels)
ATTENTIONS = {
    'SE': dict(reduction=4), 'CBAM': dict(reduction=4), 'SGE': dict(groups=4),
    'scSE': dict(reduction=4), 'DoubleAttention': dict(), 'SK': dict(min_channels=8),
    'SplitAttentionConv2d': dict(), 'RadixMajorSplitAttentionConv2d': dict(groups=2),
    'SCConv': dict(),
}
GATES = {'SE', 'CBAM', 'SGE', 'scSE', 'DoubleAttention'}  # the rest replace a conv


def test_every_attention_module_is_covered():
    assert set(ATTENTIONS) == set(_registered(attentions))


def _module_grads(m, x, amp):
    m.zero_grad()
    x = x.clone().requires_grad_()
    with torch.autocast('cpu', dtype=BF16, enabled=amp):
        out = m(x)
    out.float().square().sum().backward()
    assert _finite_grads(m)
    return out, x.grad, torch.cat([p.grad.flatten() for p in m.parameters()])


@pytest.mark.parametrize('name', sorted(ATTENTIONS))
def test_attention_module_under_bf16_autocast(name):
    """bf16 features in (what a layer behind the first conv gets): bf16 out, finite gradients
    close to the fp32 ones. fp32 features in: a gate keeps fp32, a conv replacement gives what
    a conv gives under autocast (bf16)."""
    torch.manual_seed(0)
    m = MODELS.build(dict(type=f'mmresfam.{name}', in_channels=16, **ATTENTIONS[name]))
    randomise_bn(m)
    with torch.no_grad():  # no zero-initialised part (SGE's weight, A2's reconstruction)
        for p in m.parameters():
            if p.numel() < 64:
                p.normal_(std=0.5)
    m.eval()
    x = torch.randn(2, 16, 7, 6).to(BF16).float()  # the same input values for both runs
    out32, gx32, gp32 = _module_grads(m, x, amp=False)
    out, gx, gp = _module_grads(m, x.to(BF16), amp=True)
    assert out.dtype == BF16 and gx.dtype == BF16 and torch.isfinite(gx).all()
    assert _rel_err(out, out32) < MODULE_OUT, _rel_err(out, out32)
    assert _rel_err(gx, gx32) < MODULE_GRAD, _rel_err(gx, gx32)
    assert _rel_err(gp, gp32) < MODULE_GRAD, _rel_err(gp, gp32)
    with torch.autocast('cpu', dtype=BF16):
        assert m(x).dtype == (torch.float32 if name in GATES else BF16)
    m.train()  # batch statistics in the norms
    out, gx, gp = _module_grads(m, x.to(BF16), amp=True)
    assert out.dtype == BF16 and torch.isfinite(gx).all()
