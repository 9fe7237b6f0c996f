"""Memory-lean selective attention and pointwise convs for the attention modules.

Split attention (ResNeSt) and selective kernel (SKNet) attention both pool ``R`` same-shaped
feature maps globally, turn the means into ``R`` logits per channel, softmax them over ``R``
and return the weighted sum of the maps. Written with plain tensor ops, autograd spends
several full passes over the ``(B, R, C, H, W)`` features that are pure bookkeeping: the
backward of ``mean`` writes a ``(B, R*C, H, W)`` gradient that is only ever added to the
weighted sum's gradient of the same features, and ``(feats * weights).sum(1)`` writes an
``R``-times larger product before reducing it. :func:`attention_sum` computes the same values
(up to float rounding) with fewer passes:

* the weighted sum is one ``lerp`` for ``R = 2`` (softmax weights sum to one:
  ``f1 + w0 * (f0 - f1)``) and an in-place ``addcmul_`` accumulation otherwise; neither
  materialises the ``R``-times larger product;
* the features' two gradients (through the weighted sum, ``grad * w``, and through the
  pooling, a constant per map) are written in one pass, ``addcmul(pooled_grad, grad, w)``,
  instead of a product and then a sum of two full-size tensors. The weighted sum's backward
  runs first (the weights depend on the pooling); it hands ``grad`` and ``w`` to the
  pooling's backward, which runs after the attention's and writes the features' whole
  gradient. This is done only where the engine is sure to run the pooling's backward: the
  logits must have been computed from the pooled means (checked on the autograd graph when
  the logits are made); otherwise each backward writes its own part, as autograd would;
* the features' gradient is laid out in the features' own memory order (a channels-last
  network stays channels-last).

Under ``torch.compile`` the plain tensor form is used instead, which the compiler fuses itself.

The attention branches of SE, split and selective kernel attention run 1x1 convolutions on
the pooled ``(B, C, 1, 1)`` vectors. :func:`pointwise_conv` computes such a conv as the matrix
multiply it is (``F.linear`` on the conv's own weight): same parameters, same values up to
float rounding, about 3-4x less time forward and backward on the CPU, where a convolution call
costs its set-up for a 1x1 image.

Mixed precision. Under autocast a custom function's forward runs with autocast on, its
backward (by default) with autocast off, and the logits can have another dtype than the
features (on CUDA, ``softmax`` is an fp32 op). The dtype rule of :func:`attention_sum` is
explicit and the same on every device, with or without autocast: **the output has the
features' dtype** (the softmaxed weights are rounded to it, as the next layer would round them
anyway) and **each gradient has its input's dtype**, the logits' gradient summed in the
logits' dtype (the plain ``(feats * weights).sum(1)`` would promote the whole product to fp32
and hand an fp32 feature map to the next layer). With the dtypes fixed this way autocast
changes nothing inside (a mean, a softmax, elementwise products and sums with explicit dtypes
give the same result with autocast on or off), so ``torch.amp.custom_fwd`` / ``custom_bwd``
are not used: with ``cast_inputs`` they would cast every input to one fixed dtype and run with
autocast off (fp32 in, fp32 feature map out), and without it they only replay the forward's
autocast state in the backward, for one device type fixed when the function is defined.
"""
from typing import Callable, List

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['attention_sum', 'pointwise_conv']


def _memory_order(t: torch.Tensor) -> List[int]:
    """``t``'s dimensions from the largest stride to the smallest (stable; traceable)."""
    strides = t.stride()
    order = list(range(t.dim()))
    for i in range(1, len(order)):  # insertion sort
        j = i
        while j > 0 and strides[order[j - 1]] < strides[order[j]]:
            order[j - 1], order[j] = order[j], order[j - 1]
            j -= 1
    return order


def _in_memory_order(order: List[int], op: Callable, *operands: torch.Tensor) -> torch.Tensor:
    """``op(*operands)`` (broadcasting) laid out in the memory ``order`` of
    :func:`_memory_order`: computed on views permuted into that order, where it comes out
    contiguous, and permuted back; one pass, no copy. (A contiguous gradient of a
    channels-last map viewed as 5-D would make every later elementwise backward, the ReLU's
    and the norm's, walk two layouts: several times slower on the CPU.)"""
    inverse = [order.index(d) for d in range(len(order))]
    return op(*(t.permute(order) for t in operands)).permute(inverse)


class _Handoff:
    """What the pooling and the weighted sum of one call share: the features' memory order,
    and what the weighted sum's backward passes to the pooling's backward."""
    __slots__ = ('order', 'armed', 'grad', 'weights')

    def __init__(self, order: List[int]):
        self.order = order
        self.armed = False  # set once the logits are known to depend on the pooled means
        self.grad = self.weights = None


class _Pool(torch.autograd.Function):

    @staticmethod
    def forward(ctx, feats, handoff):
        ctx.handoff, ctx.shape = handoff, feats.shape
        return feats.mean(dim=(-2, -1), keepdim=True)

    @staticmethod
    def backward(ctx, grad_pooled):
        height, width = ctx.shape[-2:]
        grad_pooled = grad_pooled / (height * width)
        handoff = ctx.handoff
        if handoff.grad is None:  # nothing handed over: a broadcast view, no full-size write
            return grad_pooled.expand(ctx.shape), None
        grad, weights = handoff.grad, handoff.weights
        handoff.grad = handoff.weights = None
        return _in_memory_order(handoff.order, torch.addcmul, grad_pooled, grad, weights), None


class _SoftmaxSum(torch.autograd.Function):

    @staticmethod
    def forward(ctx, feats, logits, handoff):
        probs = logits.softmax(dim=1)
        weights = probs.to(feats.dtype)  # the output has the features' dtype
        if feats.shape[1] == 2:
            # softmax weights sum to one: f1 + w0 * (f0 - f1), and exactly these weights
            weights = torch.cat((weights[:, :1], 1 - weights[:, :1]), dim=1)
            out = torch.lerp(feats[:, 1], feats[:, 0], weights[:, 0])
        else:
            out = feats[:, 0] * weights[:, 0]
            for r in range(1, feats.shape[1]):
                out.addcmul_(feats[:, r], weights[:, r])
        ctx.save_for_backward(feats, weights, probs)
        ctx.handoff = handoff
        return out

    @staticmethod
    def backward(ctx, grad):
        feats, weights, probs = ctx.saved_tensors
        grad = grad.unsqueeze(1)
        grad_logits = None
        if ctx.needs_input_grad[1]:
            grad_w = (feats * grad).sum(dim=(-2, -1), keepdim=True, dtype=probs.dtype)
            grad_logits = probs * (grad_w - (probs * grad_w).sum(dim=1, keepdim=True))
        grad_feats = None
        if ctx.needs_input_grad[0]:
            if ctx.handoff.armed:  # the pooling's backward runs later, writes it all
                ctx.handoff.grad, ctx.handoff.weights = grad, weights
            else:
                grad_feats = _in_memory_order(ctx.handoff.order, torch.mul, grad, weights)
        return grad_feats, grad_logits, None


def _depends_on(node, target, limit: int = 256) -> bool:
    """Whether autograd ``node`` reaches ``target`` (looking at ``limit`` nodes at most)."""
    stack, seen = [node], 0
    while stack and seen < limit:
        node = stack.pop()
        if node is target:
            return True
        if node is not None:
            seen += 1
            stack.extend(next_node for next_node, _ in node.next_functions)
    return False


def attention_sum(feats: torch.Tensor,
                  logits_fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Selective attention over ``R`` feature maps: pool, score, softmax, weighted sum.

    ``logits = logits_fn(feats.mean((-2, -1), keepdim=True))``, then
    ``(feats * logits.softmax(dim=1)).sum(dim=1)``, with fewer full-size passes forward and
    backward (see the module docstring).

    Args:
        feats (Tensor): ``(B, R, C, H, W)`` feature maps (a view of a ``(B, R*C, H, W)``
            tensor is fine; it is not modified).
        logits_fn (callable): The attention: maps the ``(B, R, C, 1, 1)`` means of the maps
            to ``(B, R, C, 1, 1)`` logits.

    Returns:
        Tensor: ``(B, C, H, W)`` in ``feats``' dtype (softmax weights of another dtype, e.g.
        fp32 under autocast, are rounded to it).
    """
    if feats.dim() != 5:
        raise ValueError(f'attention_sum expects feats (B, R, C, H, W), got {tuple(feats.shape)}')
    if torch.compiler.is_compiling():
        weights = logits_fn(feats.mean(dim=(-2, -1), keepdim=True)).softmax(dim=1)
        return (feats * weights.to(feats.dtype)).sum(dim=1)
    handoff = _Handoff(_memory_order(feats))
    pooled = _Pool.apply(feats, handoff)
    logits = logits_fn(pooled)
    if tuple(logits.shape) != (*feats.shape[:3], 1, 1):
        raise ValueError(f'attention_sum: logits_fn must return logits of shape (B, R, C, 1, '
                         f'1) = {(*feats.shape[:3], 1, 1)}, got {tuple(logits.shape)}')
    handoff.armed = (pooled.grad_fn is not None and logits.grad_fn is not None
                     and _depends_on(logits.grad_fn, pooled.grad_fn))
    return _SoftmaxSum.apply(feats, logits, handoff)


def pointwise_conv(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` for a 1x1 convolution of pooled ``(B, C, 1, 1)`` vectors.

    A plain ungrouped 1x1 ``nn.Conv2d`` (stride 1, no padding) is computed as one matrix
    multiply with its own weight and bias; any other module or input goes through
    ``conv(x)`` unchanged.

    Args:
        conv (nn.Module): The convolution (e.g. an attention's ``fc1``).
        x (Tensor): Its input.

    Returns:
        Tensor: ``conv(x)``, up to float rounding.
    """
    if (type(conv) is nn.Conv2d and conv.groups == 1 and conv.kernel_size == (1, 1)
            and conv.stride == (1, 1) and conv.padding == (0, 0) and x.dim() == 4
            and x.shape[-2:] == (1, 1)):
        return F.linear(x.flatten(1), conv.weight.flatten(1), conv.bias)[:, :, None, None]
    return conv(x)
