"""Runtime pieces for mmengine runs: hooks, distributed CPU training, the CPU allocator."""
from .allocator import keep_freed_memory
from .cpu_dist import CPUDistributedDataParallel, setup_cpu_distributed
from .hooks import *  # noqa: F401,F403

__all__ = ['CPUDistributedDataParallel', 'keep_freed_memory', 'setup_cpu_distributed']
