"""Runtime pieces for mmengine runs: hooks, kill-safe checkpoints and distributed CPU training."""
from .checkpoint import AtomicLocalBackend, SafeCheckpointHook
from .cpu_dist import CPUDistributedDataParallel, setup_cpu_distributed
from .hooks import *  # noqa: F401,F403

__all__ = ['AtomicLocalBackend', 'SafeCheckpointHook', 'CPUDistributedDataParallel',
           'setup_cpu_distributed']
