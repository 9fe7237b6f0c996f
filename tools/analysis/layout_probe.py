"""Why channels-last helps or hurts an attention block: layouts and mixed-layout costs.

Usage::

    python tools/analysis/layout_probe.py [--batch 8] [--channels 128] [--size 56] [--radix 2]

Prints (1) the memory layout that the public radix sum ``sum(x.view(B, R, C, H, W) * a, 1)``
(MMPreTrain's and timm's split attention) and our ``attention_sum`` give for a channels-last
input, and (2) the time of a ReLU backward and a BatchNorm forward+backward when the gradient
has the same layout as the activation and when it does not (one NHWC, one NCHW operand).
Timings are medians of ``--repeats`` runs of ``--iters`` calls each, on this process's threads.
"""
import argparse
import os
import statistics
import sys
import time

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.dirname(TOOLS), TOOLS]  # mmresfam of this checkout; _cli
from _cli import run_main  # noqa: E402


def _ms(fn, iters, repeats):
    fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        runs.append((time.perf_counter() - t0) / iters * 1e3)
    return statistics.median(runs)


def _layout(t):
    import torch
    if t.is_contiguous():
        return 'NCHW (contiguous)'
    if t.is_contiguous(memory_format=torch.channels_last):
        return 'NHWC (channels-last)'
    return f'other strides {t.stride()}'


def main(argv=None):
    p = argparse.ArgumentParser(description='memory layouts through an attention block')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--channels', type=int, default=128, help='C of one split')
    p.add_argument('--size', type=int, default=56)
    p.add_argument('--radix', type=int, default=2)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--repeats', type=int, default=5)
    args = p.parse_args(argv)
    import torch

    from mmresfam.models.utils import attention_sum
    b, r, c, s = args.batch, args.radix, args.channels, args.size
    cl = torch.channels_last
    x = torch.randn(b, r * c, s, s).contiguous(memory_format=cl)
    logits = torch.randn(b, r, c, 1, 1)
    public = (x.view(b, r, c, s, s) * logits.softmax(dim=1)).sum(dim=1)
    ours = attention_sum(x.view(b, r, c, s, s), lambda pooled: logits)
    print(f'input {tuple(x.shape)}: {_layout(x)}')
    print(f'public radix sum output: {_layout(public)}')
    print(f'mmresfam attention_sum output: {_layout(ours)}')

    width = r * c
    act = torch.relu(torch.randn(b, width, s, s)).contiguous(memory_format=cl)
    grad_nhwc = torch.randn(b, width, s, s).contiguous(memory_format=cl)
    grad_nchw = grad_nhwc.contiguous()
    relu_bwd = torch.ops.aten.threshold_backward
    same = _ms(lambda: relu_bwd(grad_nhwc, act, 0), args.iters, args.repeats)
    mixed = _ms(lambda: relu_bwd(grad_nchw, act, 0), args.iters, args.repeats)
    print(f'ReLU backward {tuple(act.shape)}, NHWC activation: NHWC grad {same:.2f} ms, '
          f'NCHW grad {mixed:.2f} ms ({mixed / same:.1f}x)')

    bn = torch.nn.BatchNorm2d(width)
    inp = torch.randn(b, width, s, s).contiguous(memory_format=cl).requires_grad_()

    def bn_step(grad):
        return lambda: torch.autograd.grad(bn(inp), inp, grad)

    same = _ms(bn_step(grad_nhwc), args.iters, args.repeats)
    mixed = _ms(bn_step(grad_nchw), args.iters, args.repeats)
    print(f'BatchNorm forward+backward {tuple(inp.shape)}, NHWC input: NHWC grad {same:.2f} ms, '
          f'NCHW grad {mixed:.2f} ms ({mixed / same:.1f}x)')


if __name__ == '__main__':
    run_main(main)
