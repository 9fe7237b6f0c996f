"""Keep freed CPU memory in the process when glibc's malloc is the allocator.

With glibc's default settings, memory freed at the end of a training step goes back to the
kernel (large blocks are ``mmap``-ed and unmapped, the heap top is trimmed) and the next step
faults it in again, page by page. A network with a larger activation footprint pays most:
ResNeSt-50 takes ~90-99 k minor page faults and 130-160 ms of system time per CPU training step
(batch 8, 224), ResNet-50 far fewer, which alone moved ResNeSt-50 from its FLOP cost (0.76x
ResNet-50's throughput) to 0.67-0.74x. PyTorch's own CPU launcher
(``python -m torch.backends.xeon.run_cpu``) answers the same problem by preloading
jemalloc/tcmalloc; :func:`keep_freed_memory` does it inside glibc, with ``mallopt``, so the
plain ``python tools/train.py CONFIG`` gets it.

It is what ``MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736`` set before
Python starts does, within the limits of ``mallopt``'s C ``int`` argument:

* ``M_MMAP_THRESHOLD = 2**31 - 1``: blocks below 2 GiB come from the heap, where a freed block
  is reused by the next step instead of being unmapped (4 GiB does not fit an ``int``);
* ``M_TRIM_THRESHOLD = -1``: the heap top is never given back (``mallopt(3)``: "-1 disables
  trimming completely"; 64 GiB means the same on any machine with less free memory).

Both are needed: a trim threshold alone pins the mmap threshold at 128 KiB and is far worse.
The memory kept is bounded by the peak the program reached: freed blocks are reused, not
accumulated.
"""
import ctypes
import ctypes.util
import os
import platform
from typing import Optional

# mallopt parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 2**31 - 1
TRIM_THRESHOLD = -1

# set to 0 to keep glibc's defaults (e.g. to measure what the setting changes)
SWITCH = 'MMRESFAM_KEEP_FREED_MEMORY'

_state: Optional[str] = None


def _glibc_malloc():
    """glibc as a ``ctypes`` library if its ``malloc`` is the process's ``malloc``, else None
    (another C library, or jemalloc/tcmalloc preloaded)."""
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        process = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(libc, 'mallopt'):
        return None
    address = ctypes.cast(libc.malloc, ctypes.c_void_p).value
    if ctypes.cast(process.malloc, ctypes.c_void_p).value != address:
        return None
    return libc


def _user_setting() -> Optional[str]:
    """The first allocator setting the user made in the environment, as ``NAME=value``."""
    if os.environ.get(SWITCH) == '0':
        return f'{SWITCH}=0'
    for key in sorted(os.environ):
        if key.startswith('MALLOC_') or (key == 'GLIBC_TUNABLES'
                                         and 'glibc.malloc.' in os.environ[key]):
            return f'{key}={os.environ[key]}'
    return None


def keep_freed_memory() -> str:
    """Make glibc's malloc keep freed memory in the process (once per process).

    Called at start-up by ``tools/train.py``, ``tools/test.py`` and the analysis tools; call it
    at the start of your own CPU training script for the same effect. Does nothing where
    glibc's ``malloc`` is not the allocator (macOS, Windows, musl, jemalloc/tcmalloc in
    ``LD_PRELOAD``) or where the user made an allocator setting, which always wins: any
    ``MALLOC_*`` variable, ``glibc.malloc.*`` in ``GLIBC_TUNABLES``, or
    ``MMRESFAM_KEEP_FREED_MEMORY=0`` (glibc's defaults).

    Returns:
        str: What was done, decided on the first call and returned again by later calls:
        ``'applied'``, ``'user setting NAME=value'`` or ``'not glibc'``.
    """
    global _state
    if _state is not None:
        return _state
    user = _user_setting()
    if user is not None:
        _state = f'user setting {user}'
        return _state
    libc = _glibc_malloc()
    if libc is None:
        _state = 'not glibc'
        return _state
    if not (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        raise RuntimeError('glibc refused mallopt(M_MMAP_THRESHOLD/M_TRIM_THRESHOLD); set '
                           f'{SWITCH}=0 to skip it')
    _state = 'applied'
    return _state
