"""Memory-lean pooling and attention-weighted sums for the split/selective attention modules.

Split attention (ResNeSt) and selective kernel (SKNet) attention both pool feature maps
globally and return an attention-weighted sum of ``R`` same-shaped feature maps. Written with
plain tensor ops, autograd spends several full passes over the ``(B, R, C, H, W)`` features
that are pure bookkeeping: the backward of ``mean`` writes a ``(B, R*C, H, W)`` gradient that
is only ever added to another one, and ``(feats * weights).sum(1)`` writes an ``R``-times
larger product before reducing it. The two functions here compute the same values (up to
float rounding of the fused multiply-add) with fewer passes:

* :func:`global_avg_pool` -- ``x.mean((-2, -1), keepdim=True)`` whose backward returns the
  gradient as a broadcast *view* (no full-size write; autograd adds it to the other gradient
  of ``x`` in the same pass it would spend anyway);
* :func:`weighted_sum` -- ``sum_r weights[:, r] * feats[:, r]`` accumulated in place into one
  ``(B, C, H, W)`` output (``addcmul_``), never materialising the ``R``-times larger product in
  the forward pass; its backward returns the features' gradient as one tensor, laid out in
  the features' own memory order (so a channels-last network stays channels-last).

Both are ``torch.autograd.Function`` s, traced without graph breaks by ``torch.compile``.

The attention branches of SE, split and selective kernel attention then run 1x1 convolutions
on the pooled ``(B, C, 1, 1)`` vectors. :func:`pointwise_conv` computes such a conv as the
matrix multiply it is (``F.linear`` on the conv's own weight): same parameters, same values
up to float rounding, about 3-4x less time forward and backward on the CPU, where a
convolution call costs its set-up for a 1x1 image.

Mixed precision. Under autocast a custom function's forward runs with autocast on, its
backward (by default) with autocast off, and its inputs can have different dtypes: on CUDA the
softmaxed weights come out in fp32 (``softmax`` is an fp32 op there) while the features are
fp16/bf16. The dtype rule here is explicit and the same on every device, with or without
autocast: **the output has the features' dtype** (the weights are rounded to it, as the next
layer would round them anyway), and **each gradient has its input's dtype**, the weights'
gradient summed in the weights' dtype (the plain ``(feats * weights).sum(1)`` would promote
the whole product to fp32 and hand an fp32 feature map to the next layer). With the dtypes
fixed this way, autocast changes nothing inside them (a mean, elementwise products and a sum
with an explicit dtype give the same result with autocast on or off), so
``torch.amp.custom_fwd`` / ``custom_bwd`` are not used: with ``cast_inputs`` they would cast
every input to one fixed dtype and run with autocast off (fp32 in, fp32 feature map out), and
without it they only replay the forward's autocast state in the backward, for one device type
fixed when the function is defined.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['global_avg_pool', 'pointwise_conv', 'weighted_sum']


class _GlobalAvgPool(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.mean(dim=(-2, -1), keepdim=True)

    @staticmethod
    def backward(ctx, grad):
        height, width = ctx.shape[-2:]
        return (grad / (height * width)).expand(ctx.shape)


def global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """``x.mean(dim=(-2, -1), keepdim=True)`` with a broadcast-view backward.

    Args:
        x (Tensor): ``(..., H, W)`` feature maps.

    Returns:
        Tensor: ``(..., 1, 1)`` means.
    """
    return _GlobalAvgPool.apply(x)


def _mul_in_memory_order_of(like: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    """``a * b`` (broadcasting to ``like.shape``) laid out in memory like ``like``.

    The product is computed on views permuted into ``like``'s memory order (outermost stride
    first), where it comes out contiguous, and permuted back: one pass, no copy, and unlike
    ``torch.mul(..., out=torch.empty_like(like))`` it is traced by ``torch.compile``.
    """
    strides = like.stride()
    order = list(range(like.dim()))
    for i in range(1, len(order)):  # stable insertion sort, largest stride first (traceable)
        j = i
        while j > 0 and strides[order[j - 1]] < strides[order[j]]:
            order[j - 1], order[j] = order[j], order[j - 1]
            j -= 1
    inverse = [order.index(d) for d in range(like.dim())]
    return (a.permute(order) * b.permute(order)).permute(inverse)


class _WeightedSum(torch.autograd.Function):

    @staticmethod
    def forward(ctx, feats, weights):
        ctx.weights_dtype = weights.dtype
        weights = weights.to(feats.dtype)  # the output has the features' dtype
        ctx.save_for_backward(feats, weights)
        out = feats[:, 0] * weights[:, 0]
        for r in range(1, feats.shape[1]):
            out.addcmul_(feats[:, r], weights[:, r])
        return out

    @staticmethod
    def backward(ctx, grad):
        feats, weights = ctx.saved_tensors
        grad = grad.unsqueeze(1)
        grad_feats = None
        if ctx.needs_input_grad[0]:
            # in the features' own memory order (e.g. a channels-last 4-D tensor viewed as
            # 5-D): a contiguous gradient would make every later elementwise backward (the
            # ReLU's, the norm's) walk two different layouts, several times slower on CPU
            grad_feats = _mul_in_memory_order_of(feats, grad, weights)
        grad_weights = None
        if ctx.needs_input_grad[1]:
            grad_weights = (feats * grad).sum(dim=(-2, -1), keepdim=True,
                                              dtype=ctx.weights_dtype)
        return grad_feats, grad_weights


def weighted_sum(feats: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(feats * weights).sum(dim=1)`` without the ``R``-times larger intermediate.

    Args:
        feats (Tensor): ``(B, R, C, H, W)`` feature maps (a view of a ``(B, R*C, H, W)``
            tensor is fine).
        weights (Tensor): ``(B, R, C, 1, 1)`` weights.

    Returns:
        Tensor: ``(B, C, H, W)``, ``sum_r weights[:, r] * feats[:, r]``, in ``feats``' dtype
        (weights of another dtype, e.g. fp32 under autocast, are rounded to it).
    """
    if feats.dim() != 5 or tuple(weights.shape) != (*feats.shape[:3], 1, 1):
        raise ValueError('weighted_sum expects feats (B, R, C, H, W) and weights '
                         f'(B, R, C, 1, 1), got {tuple(feats.shape)} and '
                         f'{tuple(weights.shape)}')
    return _WeightedSum.apply(feats, weights)


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
