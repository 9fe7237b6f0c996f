"""Runtime pieces for mmengine runs: hooks and distributed CPU training."""
from .cpu_dist import CPUDistributedDataParallel, setup_cpu_distributed
from .hooks import *  # noqa: F401,F403

__all__ = ['CPUDistributedDataParallel', 'setup_cpu_distributed']
