"""Side-by-side speed and memory benchmark of our backbones against MMPreTrain and timm.

All candidates live in one process. Every repeat runs every candidate once (in a rotated order,
so no candidate always runs first or last), so slow phases of a shared machine hit all of them;
ratios are taken inside each repeat and their median is reported with their spread (min and
max over the repeats) and, from 6 repeats on, a 95 % confidence interval of that median
(:func:`median_ci`); a run during which other processes kept the CPUs busy is flagged
(:func:`busy_warning`). Before any timing the candidates of one network are given the same
weights and their outputs are compared: a candidate that computes something else is refused
(:class:`AgreementError`).

Measured per candidate:

* ``infer``: images/s of ``model(x)`` under ``torch.no_grad()`` in eval mode;
* ``train``: images/s of one forward + backward (``out.float().mean()``) + SGD step, train mode;
* ``mem``: peak training-step memory in MiB. CUDA: ``torch.cuda.max_memory_allocated`` above
  the level before the step. CPU (only with mode ``rss`` too): peak RSS growth during the
  first training step (activations + gradients + momentum), in a fresh subprocess per
  candidate (``/proc/self/clear_refs`` resets the peak), so one candidate's allocator cache
  cannot hide another's;
* ``act``: MiB of tensors saved for backward (unique storages) in one training forward: the
  activation memory, exact and independent of the allocator.
"""
import copy
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from .references import (REFERENCES, REPO_ROOT, TOOLS_DIR, available, build_candidate,
                         copy_weights, randomize_norms_)

MiB = 2**20


class AgreementError(RuntimeError):
    """Candidates that should compute the same network disagree."""


@dataclass
class Options:
    device: str = 'cpu'
    batch: int = 8
    size: int = 224
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    warmup: int = 2
    iters: int = 3
    repeats: int = 5
    modes: Sequence[str] = ('infer', 'train', 'mem')
    tol: float = 1e-4
    seed: int = 0
    overrides: dict = field(default_factory=dict)


@dataclass
class Candidate:
    model: str
    impl: str
    module: nn.Module = None
    weights: str = ''
    infer: List[float] = field(default_factory=list)
    train: List[float] = field(default_factory=list)
    mem_mib: Optional[float] = None
    act_mib: Optional[float] = None

    @property
    def key(self):
        return f'{self.model}/{self.impl}'


def parse_overrides(items: Sequence[str]) -> dict:
    """``['channels_last=True', ...]`` (``--cfg`` of the analysis tools) -> keyword arguments of
    our backbone; values are Python literals."""
    import ast
    overrides = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise ValueError(f'--cfg expects KEY=VALUE, got {item!r}')
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ValueError(f'--cfg {key}: {value!r} is not a Python literal '
                             '(strings need quotes)') from None
    return overrides


def cli_models(models: Sequence[str], baseline: Optional[str] = None) -> List[str]:
    """The models named on an analysis tool's command line, then the baseline, each once;
    ``ValueError`` naming the first unknown one and the known names."""
    names = list(dict.fromkeys(list(models) + ([baseline] if baseline else [])))
    for name in names:
        if name not in REFERENCES:
            raise ValueError(f'unknown model {name!r}; choose from {sorted(REFERENCES)}')
    return names


def amp_context(opts: Options):
    if not opts.amp:
        return nullcontext()
    dtype = torch.float16 if opts.device.startswith('cuda') else torch.bfloat16
    return torch.autocast(device_type=torch.device(opts.device).type, dtype=dtype)


def _sync(device):
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """``max|a - b| / max|b|``: scale-free, so deep random networks need no tuned atol."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    if a.shape != b.shape:
        return float('inf')
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


@torch.no_grad()
def check_agreement(cands: Sequence[Candidate], opts: Options) -> Dict[str, float]:
    """Compare every candidate with the first of its network (eval, fp32, one batch).

    Returns ``{candidate key: relative error}`` and raises :class:`AgreementError` naming the
    candidates whose error exceeds ``opts.tol``.
    """
    gen = torch.Generator().manual_seed(opts.seed + 1)
    x = torch.randn(2, 3, opts.size, opts.size, generator=gen).to(opts.device)
    errors, bad, first = {}, [], {}
    for c in cands:
        c.module.eval()
        out = c.module(x)
        if c.model not in first:
            first[c.model] = (c, out)
            errors[c.key] = 0.0
            continue
        ref_c, ref_out = first[c.model]
        err = relative_error(out, ref_out)
        errors[c.key] = err
        if not err <= opts.tol:
            bad.append(f'{c.key} vs {ref_c.key}: relative max error {err:.3g} '
                       f'(shapes {tuple(out.shape)} / {tuple(ref_out.shape)}, '
                       f'weights {c.weights})')
    if bad:
        raise AgreementError('outputs disagree, refusing to compare different networks '
                             f'(tolerance {opts.tol:g}): ' + '; '.join(bad))
    return errors


def make_candidates(models: Sequence[str], impls: Sequence[str], opts: Options,
                    log=print) -> List[Candidate]:
    """Build every available (model, impl), sharing the weights of ``ours`` within a model."""
    cands = []
    for name in models:
        if name not in REFERENCES:
            raise KeyError(f'model must be one of {sorted(REFERENCES)}, got {name!r}')
        if not available(name, 'ours'):
            log(f'skip {name}: {REFERENCES[name].ours["type"]} is not registered (yet)')
            continue
        torch.manual_seed(opts.seed)
        ours = build_candidate(name, 'ours', **opts.overrides)
        randomize_norms_(ours, opts.seed)  # PyTorch's default init + random norms
        group = []
        for impl in impls:
            if impl == 'ours':
                group.append(Candidate(name, 'ours', ours, 'built'))
                continue
            if not available(name, impl):
                log(f'skip {name}/{impl}: no such implementation')
                continue
            mod = build_candidate(name, impl, **(opts.overrides if impl == 'ours_cp' else {}))
            try:
                how = copy_weights(name, ours, mod, impl)
            except ValueError as err:
                raise AgreementError(f'{name}/{impl}: cannot give it our weights: {err}')
            group.append(Candidate(name, impl, mod, how))
        cands.extend(group)
    return cands


def prepare(c: Candidate, opts: Options):
    """Move to the device/layout; compile if asked. Agreement is checked before this."""
    mod = c.module.to(opts.device)
    if opts.channels_last:
        mod = mod.to(memory_format=torch.channels_last)
    c.module = mod
    c.runner = torch.compile(mod) if opts.compile else mod
    c.optim = torch.optim.SGD(mod.parameters(), lr=1e-4, momentum=0.9)


def _input(opts: Options, batch=None):
    x = torch.randn(batch or opts.batch, 3, opts.size, opts.size, device=opts.device)
    return x.contiguous(memory_format=torch.channels_last) if opts.channels_last else x


def infer_step(c: Candidate, x, opts: Options):
    with torch.no_grad(), amp_context(opts):
        c.runner(x)


def train_step(c: Candidate, x, opts: Options):
    with amp_context(opts):
        loss = c.runner(x).float().mean()
    loss.backward()
    c.optim.step()
    c.optim.zero_grad(set_to_none=True)


def time_mode(c: Candidate, x, opts: Options, mode: str, warmup: int) -> float:
    """Images/s of ``mode`` over ``opts.iters`` steps after ``warmup`` untimed steps."""
    c.module.train(mode == 'train')
    step = train_step if mode == 'train' else infer_step
    for _ in range(warmup):
        step(c, x, opts)
    _sync(opts.device)
    t0 = time.perf_counter()
    for _ in range(opts.iters):
        step(c, x, opts)
    _sync(opts.device)
    return opts.iters * x.shape[0] / (time.perf_counter() - t0)


def saved_activation_mib(c: Candidate, opts: Options) -> float:
    """MiB of distinct storages autograd saves for backward during one training forward."""
    seen = {}

    def pack(t):
        try:
            st = t.untyped_storage()
            seen[(st.data_ptr(), t.device)] = st.nbytes()
        except Exception:  # noqa: BLE001  (tensor subclasses without storage)
            pass
        return t

    c.module.train()
    x = _input(opts)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), amp_context(opts):
        loss = c.module(x).float().mean()
    loss.backward()
    c.optim.zero_grad(set_to_none=True)
    return sum(seen.values()) / MiB


def cuda_peak_mib(c: Candidate, opts: Options) -> float:
    x = _input(opts)
    c.module.train()
    train_step(c, x, opts)  # grads/optimizer state allocated once
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    train_step(c, x, opts)
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / MiB


def _rss_now() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _rss_peak() -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_peak_mib_worker(name: str, impl: str, opts: Options) -> float:
    """In this (fresh) process: build one candidate, peak RSS growth of its first train step."""
    torch.manual_seed(opts.seed)
    c = Candidate(name, impl, build_candidate(
        name, impl, **(opts.overrides if impl.startswith('ours') else {})))
    prepare(c, opts)
    x = _input(opts)
    c.module.train()
    with torch.no_grad():  # touch the code paths once (lazy init), keep no activations
        c.module(x)
    base = _rss_now()  # weights and input only: the step's activations, gradients and
    # momentum buffers all count (after a first step, freed activation memory stays resident
    # in the allocator and would hide the next step's)
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # reset VmHWM to the current RSS
    except OSError:
        pass
    train_step(c, x, opts)
    return (_rss_peak() - base) / MiB


def cpu_peak_mib(c: Candidate, opts: Options) -> float:
    payload = json.dumps(dict(model=c.model, impl=c.impl, opts=asdict(opts)))
    code = (f'import json,sys;sys.path[:0]=[{REPO_ROOT!r},{TOOLS_DIR!r}];'
            'from analysis._lib.bench import *;'
            'from mmresfam.engine import keep_freed_memory;keep_freed_memory();'
            'a=json.loads(sys.argv[1]);o=Options(**a["opts"]);'
            'print("PEAK", cpu_peak_mib_worker(a["model"], a["impl"], o))')
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
    res = subprocess.run([sys.executable, '-c', code, payload], capture_output=True, text=True,
                         env=env)
    for line in res.stdout.splitlines():
        if line.startswith('PEAK '):
            return float(line.split()[1])
    raise RuntimeError(f'memory worker for {c.key} failed:\n{res.stderr[-2000:]}')


def run(models: Sequence[str], impls: Sequence[str] = ('ours', 'mmpretrain', 'timm'),
        opts: Options = None, log=print, on_repeat=None) -> dict:
    """Benchmark ``models`` x ``impls``; returns the JSON-able result (see :func:`summarise`).

    ``on_repeat(partial_result)`` is called after every repeat (e.g. to save partial results
    of a long run).
    """
    opts = opts or Options()
    cands = make_candidates(models, impls, opts, log=log)
    if not cands:
        raise ValueError('nothing to benchmark: none of the models is available')
    errors = check_agreement(cands, opts)
    for c in cands:
        log(f'{c.key:28s} weights: {c.weights:34s} rel. error vs ours {errors[c.key]:.2e}')
        prepare(c, opts)
    x = _input(opts)
    timed = [m for m in ('infer', 'train') if m in opts.modes]
    start = cpu_times()
    for r in range(opts.repeats):
        shift = r % len(cands)
        order = cands[shift:] + cands[:shift]
        for mode in timed:
            for c in order:
                getattr(c, mode).append(time_mode(c, x, opts, mode,
                                                  opts.warmup if r == 0 else 1))
        log(f'repeat {r + 1}/{opts.repeats} done')
        if on_repeat is not None:
            on_repeat(summarise(cands, opts, errors))
    others = other_cpus(start, cpu_times())
    if 'mem' in opts.modes:
        for c in cands:
            c.act_mib = saved_activation_mib(c, opts)
            if opts.device.startswith('cuda'):
                c.mem_mib = cuda_peak_mib(c, opts)
            elif 'rss' in opts.modes and not opts.compile:
                c.mem_mib = cpu_peak_mib(c, opts)
    result = summarise(cands, opts, errors)
    result['machine']['other_cpus'] = others
    warning = busy_warning(result['machine'])
    if warning:
        log(warning)
    return result


# CPUs kept busy by other processes during the timed repeats above which a run is flagged
BUSY_CPUS = 0.25


def cpu_times() -> Optional[tuple]:
    """``(wall s, CPU s of the whole machine, CPU s of this process and its children)``, or
    None where ``/proc/stat`` does not exist."""
    try:
        with open('/proc/stat') as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    machine = (user + nice + system + irq + softirq + steal) / os.sysconf('SC_CLK_TCK')
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        own += usage.ru_utime + usage.ru_stime
    return time.perf_counter(), machine, own


def other_cpus(start: Optional[tuple], end: Optional[tuple]) -> Optional[float]:
    """CPUs that other processes kept busy on average between two :func:`cpu_times`
    samples (machine CPU time minus ours, over the wall time); None if unknown."""
    if start is None or end is None or end[0] <= start[0]:
        return None
    return max(0.0, ((end[1] - start[1]) - (end[2] - start[2])) / (end[0] - start[0]))


def busy_warning(machine: dict) -> Optional[str]:
    """A warning line if other processes used at least :data:`BUSY_CPUS` CPUs while the
    candidates were timed (``machine['other_cpus']``), else None."""
    others = machine.get('other_cpus')
    if others is None or others < BUSY_CPUS:
        return None
    return (f"WARNING: the machine was busy: other processes used {others:.2f} CPUs on "
            f"average while this ran ({machine.get('threads')} threads, "
            f'{os.cpu_count()} CPUs); throughputs are disturbed, compare the paired ratios '
            'and their spread, or rerun on a quiet machine')


def _median(xs):
    return statistics.median(xs) if xs else None


def median_ci(xs: Sequence[float], level: float = 0.95) -> Optional[List[float]]:
    """A distribution-free confidence interval ``[lo, hi]`` of the median of ``xs``.

    The order statistics ``x_(k) <= median <= x_(n+1-k)`` with the largest ``k`` whose
    coverage ``1 - 2 P(Binomial(n, 1/2) <= k - 1)`` is at least ``level`` (the sign-test
    interval; it assumes only independent repeats, no distribution). ``None`` when even
    ``[min, max]`` covers less than ``level`` (fewer than 6 values for 95 %).
    Examples: 6-7 values give ``[min, max]``, 9 the 2nd and 8th, 15 the 4th and 12th.
    """
    n = len(xs)
    k, below = 0, 0.0  # below: P(Binomial(n, 1/2) <= k - 1)
    while k < n // 2:
        nxt = below + math.comb(n, k) / 2**n
        if 1 - 2 * nxt < level:
            break
        k, below = k + 1, nxt
    if k == 0:
        return None
    s = sorted(xs)
    return [s[k - 1], s[n - k]]


def paired_ratios(xa: Sequence[float], xb: Sequence[float]) -> dict:
    """Per-repeat ratios ``xa[i] / xb[i]`` (two candidates timed in the same repeat): their
    median, spread (``min``, ``max``) and the median's 95 % confidence interval (``ci``,
    :func:`median_ci`; ``None`` below 6 repeats); ``None`` each without values. The spread
    shows how noisy the run was; the interval says what the median is known to: a target or a
    difference inside it is not a measured one."""
    ratios = [p / q for p, q in zip(xa, xb)] if xa and xb else []
    return dict(median=statistics.median(ratios) if ratios else None,
                min=min(ratios) if ratios else None, max=max(ratios) if ratios else None,
                ci=median_ci(ratios))


def _ratio_fields(xa: dict, xb: dict) -> dict:
    """``infer``/``train`` median ratios, their ``*_range`` [min, max] and ``*_ci`` (the
    median's 95 % confidence interval, or None) (result fields)."""
    out = {}
    for mode in ('infer', 'train'):
        q = paired_ratios(xa[mode], xb[mode])
        out[mode] = q['median']
        out[f'{mode}_range'] = None if q['median'] is None else [q['min'], q['max']]
        out[f'{mode}_ci'] = q['ci']
    return out


def summarise(cands: Sequence[Candidate], opts: Options, errors: Dict[str, float]) -> dict:
    """Medians per candidate and ratios ours/reference (medians of per-repeat ratios)."""
    rows, ratios = [], []
    by_model: Dict[str, Dict[str, Candidate]] = {}
    for c in cands:
        by_model.setdefault(c.model, {})[c.impl] = c
        rows.append(dict(model=c.model, impl=c.impl, weights=c.weights,
                         rel_error=errors.get(c.key), infer_img_s=_median(c.infer),
                         train_img_s=_median(c.train), infer_all=c.infer, train_all=c.train,
                         peak_mem_mib=c.mem_mib, saved_act_mib=c.act_mib))
    for model, group in by_model.items():
        ours = group.get('ours')
        if ours is None:
            continue
        for impl, other in group.items():
            if impl == 'ours':
                continue
            # with_cp is ours too: report it as ours_cp / ours (memory saved, speed paid)
            a, b = (other, ours) if impl == 'ours_cp' else (ours, other)
            ratios.append(dict(
                model=model, num=a.key, den=b.key,
                **_ratio_fields(dict(infer=a.infer, train=a.train),
                                dict(infer=b.infer, train=b.train)),
                peak_mem=a.mem_mib / b.mem_mib if a.mem_mib and b.mem_mib else None,
                saved_act=a.act_mib / b.act_mib if a.act_mib and b.act_mib else None))
    return dict(options=asdict(opts), machine=machine_info(opts), rows=rows, ratios=ratios)


def add_baseline_ratios(result: dict, cands_by_key: Dict[str, dict], baseline: str) -> None:
    """Add ``ours(model) / ours(baseline)`` ratios (e.g. ResNeSt-50 vs ResNet-50, same run)."""
    base = cands_by_key.get(f'{baseline}/ours')
    if base is None:
        return
    for key, row in cands_by_key.items():
        if not key.endswith('/ours') or key == f'{baseline}/ours':
            continue

        def div(k):
            return row[k] / base[k] if row[k] and base[k] else None
        result['ratios'].append(dict(
            model=row['model'], num=key, den=f'{baseline}/ours',
            **_ratio_fields({m: row[f'{m}_all'] for m in ('infer', 'train')},
                            {m: base[f'{m}_all'] for m in ('infer', 'train')}),
            peak_mem=div('peak_mem_mib'), saved_act=div('saved_act_mib')))


# environment variables that change how CPU memory is allocated (and so CPU timings)
_ALLOCATOR_ENV = ('GLIBC_TUNABLES', 'LD_PRELOAD', 'MALLOC_CONF')


def machine_info(opts: Options) -> dict:
    info = dict(python=platform.python_version(), torch=torch.__version__,
                cpu=platform.processor() or platform.machine(),
                # the vector ISA torch's kernels run with here (e.g. AVX512, AVX2)
                cpu_capability=torch.backends.cpu.get_cpu_capability(),
                threads=torch.get_num_threads(), load_avg=os.getloadavg(),
                allocator_env={k: v for k, v in os.environ.items() if k in _ALLOCATOR_ENV
                               or k.startswith('MALLOC_')})
    if opts.device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def _fmt(v, spec='.1f'):
    return '-' if v is None else format(v, spec)


def _fmt_ratio(q: dict, mode: str) -> str:
    """``0.906 [0.871, 0.932] ci 0.880-0.925``: the median ratio, the spread of the per-repeat
    ratios and, where there are enough repeats, the median's 95 % confidence interval."""
    spread, ci = q.get(f'{mode}_range'), q.get(f'{mode}_ci')
    if q[mode] is None or not spread:
        return _fmt(q[mode], '.3f')
    text = f'{q[mode]:.3f} [{spread[0]:.3f}, {spread[1]:.3f}]'
    return text + (f' ci {ci[0]:.3f}-{ci[1]:.3f}' if ci else '')


def format_table(result: dict) -> str:
    """Markdown tables: candidates, then ratios."""
    lines = ['| model | impl | weights | rel. err | infer img/s | train img/s | '
             'peak mem MiB | saved act. MiB |', '|---|---|---|---|---|---|---|---|']
    for r in result['rows']:
        lines.append(f"| {r['model']} | {r['impl']} | {r['weights']} | "
                     f"{_fmt(r['rel_error'], '.1e')} | {_fmt(r['infer_img_s'])} | "
                     f"{_fmt(r['train_img_s'])} | {_fmt(r['peak_mem_mib'], '.0f')} | "
                     f"{_fmt(r['saved_act_mib'], '.0f')} |")
    if result['ratios']:
        lines += ['', '| ratio (median [min, max] of the repeats; ci: 95 % interval of the '
                  'median, from 6 repeats) | infer | train | peak mem | saved act. |',
                  '|---|---|---|---|---|']
        for q in result['ratios']:
            lines.append(f"| {q['num']} / {q['den']} | {_fmt_ratio(q, 'infer')} | "
                         f"{_fmt_ratio(q, 'train')} | {_fmt(q['peak_mem'], '.3f')} | "
                         f"{_fmt(q['saved_act'], '.3f')} |")
    warning = busy_warning(result.get('machine', {}))
    if warning:
        lines += ['', warning]
    return '\n'.join(lines)
