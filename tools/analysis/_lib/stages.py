"""Where a backbone's training step goes: time and FLOPs per stage, and the allocator's share.

For each model (our implementation, built as the benchmark builds it) this measures, in one
process with the models interleaved:

* per stage (``stem`` = everything before the first stage, then ``layer1`` ...): the FLOPs
  (mmengine.analysis, one multiply-accumulate = one FLOP) and the time of one forward +
  backward of that stage alone, on the input it gets in the network (its own input gradient
  included, except for the stem's image input), all stages timed in turn;
* the whole training step of the backbone, exactly the benchmark's (forward, backward of the
  last output's mean, SGD step), and the minor page faults and system CPU time it costs;
* with ``ops=True``, one more whole step per repeat under :class:`OpTimes`: the time of every
  ATen op the step runs (backward included), summed per op kind, convolutions per kernel size,
  grouping and direction with their multiply-accumulates, so that two networks' steps can be
  compared op kind by op kind (are the convolutions at the same cost per MAC, what do the
  other ops add).

Stage times show whether each stage costs what its FLOPs say. A whole step slower than the sum
of its stages is what keeping every stage's activations alive at once costs: with glibc's
default allocator, a larger footprint can make freed memory go back to the kernel and fault in
again on the next step (minor page faults, system time), which the stage-by-stage run never
sees. The tools keep freed memory in the process (:func:`mmresfam.engine.keep_freed_memory`,
applied by ``tools/_cli.run_main``); ``MMRESFAM_KEEP_FREED_MEMORY=0`` shows glibc's defaults.
"""
import resource
import statistics
import time
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

from .bench import Candidate, Options, prepare, train_step
from .references import build_candidate


class Stem(nn.Module):
    """The part of a backbone before its first stage (its ``forward_stem``), as a module."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone.forward_stem(x)


def stages(backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
    """``[('stem', Stem), ('layer1', ...), ...]``: the backbone as a chain of stages (without
    the output norms that :class:`~mmresfam.models.backbones.ResNetV2` applies to the feature
    maps it returns)."""
    if not hasattr(backbone, 'forward_stem') or not hasattr(backbone, 'res_layers'):
        raise TypeError(f'{type(backbone).__name__} has no forward_stem/res_layers: stage times '
                        'need one of our ResNet-family backbones')
    return [('stem', Stem(backbone))] + [(n, getattr(backbone, n)) for n in backbone.res_layers]


@torch.no_grad()
def stage_inputs(backbone: nn.Module, x: torch.Tensor) -> List[torch.Tensor]:
    """The input of every stage of :func:`stages`, recorded in one forward of the backbone
    (after the backbone's own input hooks, e.g. its channels-last conversion)."""
    stages(backbone)  # refuses backbones without a stem/stages split

    def record(module, args):
        inputs.append(args[0])

    inputs = []
    modules = [backbone] + [getattr(backbone, n) for n in backbone.res_layers]
    handles = [m.register_forward_pre_hook(record) for m in modules]
    try:
        backbone(x)
    finally:
        for handle in handles:
            handle.remove()
    return inputs


def stage_flops(backbone: nn.Module, inputs: Sequence[torch.Tensor]) -> List[float]:
    """mmengine.analysis FLOPs of every stage on its input."""
    from mmengine.analysis import FlopAnalyzer
    flops = []
    for (_, stage), x in zip(stages(backbone), inputs):
        analyzer = FlopAnalyzer(stage, (x, ))
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        flops.append(float(analyzer.total()))
    return flops


def op_kind(func, args, out) -> Tuple[str, float]:
    """The group an ATen call is counted in, and its multiply-accumulates (convolutions only:
    the forward's, also for the backward, which computes up to twice as many)."""
    name = str(func.overloadpacket).replace('aten.', '')
    if name == 'convolution':
        inp, weight, transposed, groups, output = args[0], args[1], args[6], args[8], out
        direction = 'forward'
    elif name == 'convolution_backward':  # its grad_output has the forward output's shape
        output, inp, weight, transposed, groups = args[0], args[1], args[2], args[7], args[9]
        direction = 'backward'
    else:
        return name, 0.0
    kind = 'x'.join(map(str, weight.shape[2:])) + (' grouped' if groups > 1 else '')
    kind = f"conv {kind}{' transposed' if transposed else ''} {direction}"
    # every output (input, when transposed) element takes weight[0].numel() MACs
    return kind, float((inp if transposed else output).numel() * weight[0].numel())


class OpTimes(TorchDispatchMode):
    """Wall time of every ATen call made while active, summed per :func:`op_kind`.

    CPU only (CUDA calls return before their kernels finish). The hook itself costs a few
    microseconds per call, which lands in the step's time outside the ops (``OUTSIDE``): a
    network that makes more calls pays more of it.
    """

    def __init__(self):
        super().__init__()
        self.ms = defaultdict(float)
        self.calls = defaultdict(int)
        self.macs = defaultdict(float)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        t0 = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        seconds = time.perf_counter() - t0
        kind, macs = op_kind(func, args, out)
        self.ms[kind] += seconds * 1e3
        self.calls[kind] += 1
        self.macs[kind] += macs
        return out


# the step's time outside any ATen call (Python, module and autograd bookkeeping, the hook)
OUTSIDE = 'outside ATen ops'


def _op_step(cand: Candidate, x: torch.Tensor, opts: Options) -> OpTimes:
    timer = OpTimes()
    t0 = time.perf_counter()
    with timer:
        train_step(cand, x, opts)
    timer.ms[OUTSIDE] = (time.perf_counter() - t0) * 1e3 - sum(timer.ms.values())
    return timer


def _op_rows(timers: Sequence[OpTimes]) -> List[dict]:
    """Medians over the repeats per op kind (0 ms where a repeat did not run it), by time;
    the time outside the ops last."""
    kinds = {k for t in timers for k in t.ms} - {OUTSIDE}
    rows = [dict(op=k, ms=statistics.median(t.ms.get(k, 0.0) for t in timers),
                 calls=timers[0].calls.get(k, 0), gmacs=timers[0].macs.get(k, 0.0) / 1e9)
            for k in kinds]
    rows.sort(key=lambda r: (-r['ms'], r['op']))
    return rows + [dict(op=OUTSIDE, ms=statistics.median(t.ms[OUTSIDE] for t in timers),
                        calls=0, gmacs=0.0)]


def _stage_step(stage: nn.Module, x: torch.Tensor, input_grad: bool) -> float:
    x = x.detach().requires_grad_(input_grad)
    t0 = time.perf_counter()
    out = stage(x)
    out.backward(torch.ones_like(out))
    return time.perf_counter() - t0


def _whole_step(cand: Candidate, x: torch.Tensor, opts: Options) -> Tuple[float, int, float]:
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    train_step(cand, x, opts)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    return seconds, after.ru_minflt - before.ru_minflt, after.ru_stime - before.ru_stime


def run(models: Sequence[str], opts: Options = None, log=print,
        ops: bool = False) -> Dict[str, dict]:
    """Measure every model (see the module docstring); medians over ``opts.repeats``. With
    ``ops``, also the per-op-kind times of one more step per repeat (``result[name]['ops']``).
    """
    opts = opts or Options()
    if ops and opts.device != 'cpu':
        raise ValueError(f"ops: per-op times are measured on the CPU only, got device "
                         f"'{opts.device}'")
    x = torch.randn(opts.batch, 3, opts.size, opts.size)
    cands, chains, inputs, flops, times = {}, {}, {}, {}, {}
    for name in models:
        torch.manual_seed(opts.seed)
        cand = Candidate(name, 'ours', build_candidate(name, 'ours', **opts.overrides), 'built')
        prepare(cand, opts)
        cand.module.train()
        backbone = cand.module.model
        cands[name], chains[name] = cand, stages(backbone)
        inputs[name] = stage_inputs(backbone, x)
        flops[name] = stage_flops(backbone, inputs[name])
        times[name] = dict(stages=[[] for _ in chains[name]], step=[], faults=[], sys=[],
                           ops=[])
    for rep in range(opts.warmup + opts.repeats):
        keep = rep >= opts.warmup
        for name in models:
            for i, ((_, stage), inp) in enumerate(zip(chains[name], inputs[name])):
                seconds = _stage_step(stage, inp, input_grad=i > 0)
                if keep:
                    times[name]['stages'][i].append(seconds)
            cands[name].optim.zero_grad(set_to_none=True)  # the stage runs left gradients
            for _ in range(opts.iters):
                seconds, faults, sys_s = _whole_step(cands[name], x, opts)
                if keep:
                    times[name]['step'].append(seconds)
                    times[name]['faults'].append(faults)
                    times[name]['sys'].append(sys_s)
            if ops:
                timer = _op_step(cands[name], x, opts)
                if keep:
                    times[name]['ops'].append(timer)
        if keep:
            log(f'repeat {rep - opts.warmup + 1}/{opts.repeats} done')
    result = {}
    for name in models:
        t = times[name]
        rows = [dict(stage=s, gflops=f / 1e9, ms=statistics.median(v) * 1e3)
                for (s, _), f, v in zip(chains[name], flops[name], t['stages'])]
        result[name] = dict(
            stages=rows, gflops=sum(r['gflops'] for r in rows),
            stage_sum_ms=sum(r['ms'] for r in rows), step_ms=statistics.median(t['step']) * 1e3,
            faults_per_step=statistics.median(t['faults']),
            sys_ms_per_step=statistics.median(t['sys']) * 1e3)
        if ops:
            result[name]['ops'] = _op_rows(t['ops'])
    return result


def baseline_ratios(result: Dict[str, dict], baseline: str) -> Dict[str, dict]:
    """Per model: the baseline's cost over the model's (throughput ratios, as the benchmark's
    ``ours(model) / ours(baseline)``) for FLOPs (the FLOP-ideal ratio), the stage sum and the
    whole step."""
    base = result[baseline]
    return {name: dict(flops=base['gflops'] / r['gflops'],
                       stage_sum=base['stage_sum_ms'] / r['stage_sum_ms'],
                       step=base['step_ms'] / r['step_ms'])
            for name, r in result.items() if name != baseline}


def format_table(result: Dict[str, dict], ratios: Dict[str, dict] = None) -> str:
    """Markdown: one table of stages per model, then the whole-step lines and the ratios."""
    lines = []
    for name, r in result.items():
        lines += [f'{name}', '', '| stage | GFLOPs | fwd+bwd ms | ms per GFLOP |',
                  '|---|---|---|---|']
        for s in r['stages']:
            lines.append(f"| {s['stage']} | {s['gflops']:.3f} | {s['ms']:.1f} | "
                         f"{s['ms'] / s['gflops']:.1f} |")
        lines += [f"| stages, each alone | {r['gflops']:.3f} | {r['stage_sum_ms']:.1f} | "
                  f"{r['stage_sum_ms'] / r['gflops']:.1f} |",
                  f"| whole training step | | {r['step_ms']:.1f} | |", '',
                  f"minor page faults per step: {r['faults_per_step']:.0f}, system CPU time "
                  f"per step: {r['sys_ms_per_step']:.0f} ms", '']
    if ratios:
        lines += ['| ratio (baseline cost / model cost) | FLOPs | stages, each alone | '
                  'whole step |', '|---|---|---|---|']
        for name, q in ratios.items():
            lines.append(f"| {name} | {q['flops']:.3f} | {q['stage_sum']:.3f} | "
                         f"{q['step']:.3f} |")
    if any('ops' in r for r in result.values()):
        lines += [''] + format_ops(result)
    return '\n'.join(lines)


def format_ops(result: Dict[str, dict], top: int = 25) -> List[str]:
    """Markdown: one row per op kind (the ``top`` slowest in any model, the rest summed), ms
    per step of every model side by side, and ms per GMAC for the convolutions."""
    names = [n for n, r in result.items() if 'ops' in r]
    by = {n: {row['op']: row for row in result[n]['ops']} for n in names}
    kinds = {k for n in names for k in by[n]} - {OUTSIDE}
    order = sorted(kinds, key=lambda k: (-max(by[n][k]['ms'] for n in names if k in by[n]), k))
    shown, rest = order[:top], order[top:]
    lines = ['Per op kind, one training step under the op timer (median ms; conv rows also ms '
             'per GMAC of their forward)', '',
             '| op | ' + ' | '.join(names) + ' |', '|---|' + '---|' * len(names)]

    def cell(n, k):
        row = by[n].get(k)
        if row is None:
            return '-'
        per = f" ({row['ms'] / row['gmacs']:.1f}/GMAC)" if row['gmacs'] else ''
        return f"{row['ms']:.1f}{per}"
    for k in shown:
        lines.append(f'| {k} | ' + ' | '.join(cell(n, k) for n in names) + ' |')

    def total(n, kinds, conv=None):
        return sum(r['ms'] for k, r in by[n].items() if k in kinds
                   and (conv is None or k.startswith('conv ') == conv))
    every = set(order)
    lines += [f"| other ops ({len(rest)} kinds) | "
              + ' | '.join(f'{total(n, set(rest)):.1f}' for n in names) + ' |',
              '| all convolutions | ' + ' | '.join(f'{total(n, every, True):.1f}'
                                                 for n in names) + ' |',
              '| all other ops | ' + ' | '.join(f'{total(n, every, False):.1f}'
                                               for n in names) + ' |',
              f'| {OUTSIDE} (Python, bookkeeping, the timer) | '
              + ' | '.join(f'{total(n, {OUTSIDE}):.1f}' for n in names) + ' |',
              '| the step under the timer | '
              + ' | '.join(f'{total(n, every | {OUTSIDE}):.1f}' for n in names) + ' |']
    return lines
