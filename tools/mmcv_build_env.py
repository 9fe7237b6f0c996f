"""Choose how tools/setup_env.sh builds mmcv's ops: for CUDA or for the CPU only.

mmcv's ``setup.py`` compiles CUDA kernels whenever ``torch.cuda.is_available()`` or
``FORCE_CUDA=1``, and then needs a CUDA toolkit whose major version matches the one torch was
built with. This script looks at the machine (the probes below) and prints, as shell
assignments for ``eval``, the environment of the build and the name of the directory in the
wheel cache, so that a CPU-ops wheel and a CUDA-ops wheel never share a cache entry:

- ``MMCV_BUILD``: ``cpu`` or ``cuda``;
- ``MMCV_CACHE_KEY``: ``mmcv-<mmcv>-torch<torch>-py<XY>`` for CPU ops (the name this cache
  used before CUDA builds existed, so cached wheels stay valid) and
  ``mmcv-<mmcv>-torch<torch>-cu<CUDA>-sm<archs>-py<XY>`` for CUDA ops;
- ``MMCV_BUILD_ENV``: a bash array of ``NAME=value`` words for ``env`` around the build;
- ``MMCV_BUILD_NOTE``: one line saying which build was chosen and why.

CUDA ops are built when all of these hold: a CUDA build of torch, an ``nvcc`` (``CUDA_HOME``
or ``CUDA_PATH``, then ``PATH``, then ``/usr/local/cuda``) of the same CUDA major version,
and an architecture list, taken from the visible GPUs through torch or from the user's
``TORCH_CUDA_ARCH_LIST`` (which wins). Otherwise the ops are built for the CPU, with the GPUs
hidden from the build (``CUDA_VISIBLE_DEVICES=``) so that mmcv does not pick CUDA by itself.
``MMRESFAM_MMCV_OPS`` = ``auto`` (default), ``cpu`` or ``cuda`` forces the choice; ``cuda``
fails with the reason when the conditions above do not hold.

Usage (in setup_env.sh, with the venv's python, after torch is installed)::

    eval "$(python tools/mmcv_build_env.py --mmcv-version 2.1.0)"
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

OPS_CHOICES = ('auto', 'cpu', 'cuda')
_ARCH_RE = re.compile(r'^\d+\.\d+[a-z]?(\+PTX)?$')


@dataclass
class Probes:
    """What the build choice depends on, as found on the machine (or given by a test).

    Args:
        torch_version (str): ``torch.__version__`` (a local tag such as ``+cu130`` is dropped
            from cache keys).
        torch_cuda (str | None): ``torch.version.cuda``; None for a CPU-only torch.
        gpu_capabilities (list[tuple[int, int]]): compute capability of every visible GPU.
        cuda_home (str | None): the CUDA toolkit (``bin/nvcc`` inside), None when there is
            none.
        nvcc_cuda (str | None): CUDA release of its nvcc (``nvcc --version``).
        python_tag (str): ``py`` + major + minor of the Python the wheel is built for.
    """
    torch_version: str
    torch_cuda: Optional[str] = None
    gpu_capabilities: List[Tuple[int, int]] = field(default_factory=list)
    cuda_home: Optional[str] = None
    nvcc_cuda: Optional[str] = None
    python_tag: str = f'py{sys.version_info[0]}{sys.version_info[1]}'


@dataclass
class BuildChoice:
    """The chosen mmcv build.

    Args:
        kind (str): ``'cpu'`` or ``'cuda'``.
        cache_key (str): name of the wheel's directory in the cache.
        env (dict[str, str]): environment variables of the build.
        note (str): which build and why, one line.
    """
    kind: str
    cache_key: str
    env: Dict[str, str]
    note: str

    def shell(self) -> str:
        """The choice as bash assignments (``MMCV_BUILD_ENV`` is an array)."""
        env_words = ' '.join(shlex.quote(f'{k}={v}') for k, v in self.env.items())
        return '\n'.join([
            f'MMCV_BUILD={shlex.quote(self.kind)}',
            f'MMCV_CACHE_KEY={shlex.quote(self.cache_key)}',
            f'MMCV_BUILD_ENV=({env_words})',
            f'MMCV_BUILD_NOTE={shlex.quote(self.note)}',
        ]) + '\n'


def find_cuda_home(env: Mapping[str, str]) -> Optional[str]:
    """Locate the CUDA toolkit: ``CUDA_HOME`` or ``CUDA_PATH``, else the toolkit of the nvcc on
    ``PATH`` (followed through symbolic links), else ``/usr/local/cuda``.

    A directory counts when it has an executable ``bin/nvcc`` and ``include/cuda_runtime.h``
    (a wrapper script named nvcc elsewhere on ``PATH`` is not a toolkit).

    Args:
        env (Mapping[str, str]): the environment (``CUDA_HOME``, ``CUDA_PATH``, ``PATH``).

    Returns:
        str | None: the toolkit directory, or None.
    """
    def is_toolkit(home):
        return (os.access(os.path.join(home, 'bin', 'nvcc'), os.X_OK)
                and os.path.isfile(os.path.join(home, 'include', 'cuda_runtime.h')))

    for var in ('CUDA_HOME', 'CUDA_PATH'):
        if env.get(var):
            return env[var] if is_toolkit(env[var]) else None
    candidates = []
    nvcc = shutil.which('nvcc', path=env.get('PATH'))
    if nvcc:
        candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))))
    candidates.append('/usr/local/cuda')
    return next((home for home in candidates if is_toolkit(home)), None)


def nvcc_release(nvcc: str) -> Optional[str]:
    """The CUDA release (e.g. ``'13.0'``) printed by ``nvcc --version``, None if unreadable."""
    try:
        out = subprocess.run([nvcc, '--version'], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'release (\d+\.\d+)', out)
    return match.group(1) if match else None


def probe(env: Mapping[str, str]) -> Probes:
    """Probe this machine: the installed torch, its GPUs and the CUDA compiler.

    Args:
        env (Mapping[str, str]): the environment used to find nvcc.
    """
    import torch
    caps = []
    if torch.version.cuda and torch.cuda.is_available():
        caps = [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    home = find_cuda_home(env)
    return Probes(torch_version=torch.__version__, torch_cuda=torch.version.cuda,
                  gpu_capabilities=caps, cuda_home=home,
                  nvcc_cuda=nvcc_release(os.path.join(home, 'bin', 'nvcc')) if home else None)


def parse_arch_list(value: str) -> List[str]:
    """Split and check a ``TORCH_CUDA_ARCH_LIST`` value (``;`` or space separated).

    Raises:
        ValueError: naming the variable and the accepted form, for an empty or malformed list.
    """
    archs = [a for a in re.split(r'[;\s]+', value.strip()) if a]
    bad = [a for a in archs if not _ARCH_RE.match(a)]
    if not archs or bad:
        raise ValueError(
            f'TORCH_CUDA_ARCH_LIST={value!r}: expected compute capabilities such as '
            f"'8.0;9.0' or '9.0+PTX' (separated by ';' or spaces), got {bad or 'nothing'}")
    return archs


def select(probes: Probes, mmcv_version: str, env: Mapping[str, str]) -> BuildChoice:
    """Decide the mmcv build from the probes and the user's overrides.

    Args:
        probes (Probes): the machine.
        mmcv_version (str): the mmcv version to build.
        env (Mapping[str, str]): the environment; ``MMRESFAM_MMCV_OPS`` and
            ``TORCH_CUDA_ARCH_LIST`` are read from it.

    Raises:
        ValueError: for an unknown ``MMRESFAM_MMCV_OPS`` or a malformed
            ``TORCH_CUDA_ARCH_LIST``, or when ``MMRESFAM_MMCV_OPS=cuda`` cannot be met.
    """
    mode = env.get('MMRESFAM_MMCV_OPS', 'auto') or 'auto'
    if mode not in OPS_CHOICES:
        raise ValueError(f'MMRESFAM_MMCV_OPS={mode!r}: expected one of {OPS_CHOICES}')
    user_archs = env.get('TORCH_CUDA_ARCH_LIST')
    archs = parse_arch_list(user_archs) if user_archs is not None else None
    torch_ver = probes.torch_version.split('+')[0]
    cpu_key = f'mmcv-{mmcv_version}-torch{torch_ver}-{probes.python_tag}'

    why_not = None
    if mode == 'cpu':
        why_not = 'MMRESFAM_MMCV_OPS=cpu'
    elif not probes.torch_cuda:
        why_not = 'torch is a CPU-only build'
    elif not probes.cuda_home:
        why_not = (f'no CUDA toolkit (nvcc) found for torch\'s CUDA {probes.torch_cuda}: '
                   'install it or set CUDA_HOME')
    elif (probes.nvcc_cuda or '').split('.')[0] != probes.torch_cuda.split('.')[0]:
        why_not = (f'the CUDA toolkit in {probes.cuda_home} is CUDA {probes.nvcc_cuda}, torch '
                   f'was built with CUDA {probes.torch_cuda} (the major versions must match)')
    elif archs is None:
        if probes.gpu_capabilities:
            archs = sorted({f'{major}.{minor}' for major, minor in probes.gpu_capabilities})
        else:
            why_not = 'no GPU visible: set TORCH_CUDA_ARCH_LIST (e.g. 9.0) to build for one'

    if why_not is not None:
        if mode == 'cuda':
            raise ValueError(f'MMRESFAM_MMCV_OPS=cuda cannot be met: {why_not}')
        ignored = ' (TORCH_CUDA_ARCH_LIST not used)' if user_archs is not None else ''
        return BuildChoice(
            kind='cpu', cache_key=cpu_key,
            env={'MMCV_WITH_OPS': '1', 'FORCE_CUDA': '0', 'CUDA_VISIBLE_DEVICES': ''},
            note=f'mmcv ops for the CPU only: {why_not}{ignored}')

    arch_tag = '_'.join(a.replace('.', '').replace('+PTX', 'ptx') for a in archs)
    cuda_tag = probes.torch_cuda.replace('.', '')
    source = 'TORCH_CUDA_ARCH_LIST' if user_archs is not None else 'the visible GPU'
    return BuildChoice(
        kind='cuda',
        cache_key=(f'mmcv-{mmcv_version}-torch{torch_ver}-cu{cuda_tag}-sm{arch_tag}-'
                   f'{probes.python_tag}'),
        env={'MMCV_WITH_OPS': '1', 'FORCE_CUDA': '1', 'TORCH_CUDA_ARCH_LIST': ';'.join(archs),
             'CUDA_HOME': probes.cuda_home},
        note=(f'mmcv ops for CUDA {probes.torch_cuda} and the CPU, compute capability '
              f"{';'.join(archs)} (from {source}), toolkit {probes.cuda_home}"))


def main(argv: Optional[Sequence[str]] = None, env: Optional[Mapping[str, str]] = None,
         probes: Optional[Probes] = None) -> int:
    """Print the build choice as shell assignments; 2 and one line on stderr for bad input.

    Args:
        argv (Sequence[str] | None): command-line arguments (``--mmcv-version``).
        env (Mapping[str, str] | None): the environment; ``os.environ`` if None.
        probes (Probes | None): the machine; probed with torch if None.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--mmcv-version', required=True, help='mmcv version to build')
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    try:
        choice = select(probes or probe(env), args.mmcv_version, env)
    except ValueError as err:
        print(f'[mmcv_build_env] {err}', file=sys.stderr)
        return 2
    sys.stdout.write(choice.shell())
    return 0


if __name__ == '__main__':
    sys.exit(main())
