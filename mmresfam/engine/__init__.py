"""Runtime pieces for mmengine runs: hooks, kill-safe checkpoints, distributed CPU training and
the CPU allocator."""
from .allocator import keep_freed_memory
from .checkpoint import AtomicLocalBackend, SafeCheckpointHook
from .cpu_dist import CPUDistributedDataParallel, setup_cpu_distributed
from .hooks import *  # noqa: F401,F403

__all__ = ['AtomicLocalBackend', 'SafeCheckpointHook', 'CPUDistributedDataParallel',
           'keep_freed_memory', 'setup_cpu_distributed']
