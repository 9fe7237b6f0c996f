"""The loop shared by the family comparisons (``family_digits.py``, ``family_detection.py``):
train each config once through ``tools/`` scripts, reuse finished runs, print and write the
table, the JSON rows and the bar chart."""
import json
import os
import subprocess
import sys
import time
from typing import Callable, Iterable, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
MARKER = 'family_done.json'


def finished_run(work_dir: str, force: bool, **expected) -> Optional[dict]:
    """The record of a finished run in ``work_dir`` when it matches ``expected`` (and
    ``force`` is off), else None."""
    marker = os.path.join(work_dir, MARKER)
    if force or not os.path.isfile(marker):
        return None
    with open(marker) as f:
        done = json.load(f)
    return done if all(done.get(k) == v for k, v in expected.items()) else None


def save_run(work_dir: str, done: dict) -> dict:
    """Write the record that :func:`finished_run` reads back."""
    os.makedirs(work_dir, exist_ok=True)
    with open(os.path.join(work_dir, MARKER), 'w') as f:
        json.dump(done, f)
    return done


def run_script(cmd: List[str], what: str, log: Callable = print) -> Tuple[str, float]:
    """Run a ``tools/`` script (``cmd`` without the interpreter) from the repository root with
    this checkout's ``mmresfam``; its stdout and wall time, or ``RuntimeError`` with the end
    of its output."""
    cmd = [sys.executable, *cmd]
    log(' '.join(cmd))
    t0 = time.time()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    if res.returncode != 0:
        raise RuntimeError(f'{what} failed:\n{res.stdout[-1500:]}\n{res.stderr[-3000:]}')
    return res.stdout, time.time() - t0


def run_family_table(jobs: Iterable[Tuple[str, str]], run_one: Callable, summary: Callable,
                     format_table: Callable, bar_chart: Callable, args) -> int:
    """``run_one(name, config)`` for every job (a ``RuntimeError`` makes a failed row), then
    the table (printed, ``args.out``), the rows (``args.json``) and the chart of the rows that
    finished (``args.png``). Returns 1 if a run failed, else 0."""
    rows = []
    for name, config in jobs:
        try:
            rows.append(run_one(name, config))
        except RuntimeError as err:
            print(f'FAILED {name}: {err}')
            rows.append(dict(model=name, config=config, error=True))
            continue
        print(summary(rows[-1]))
    table = format_table(rows, args.epochs)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    ok = [r for r in rows if not r.get('error')]
    if ok:
        bar_chart(ok, args.png, args.epochs)
        print(f'wrote {args.png}')
    return 1 if len(ok) < len(rows) else 0
