"""Runtime checks and launch helpers used by the tools and backbones (no model code here)."""
from .cpu_dist import CPUDistributedDataParallel, setup_cpu_distributed
from .runtime_checks import (backbone_feature_channels, check_neck_channels,
                             check_pretrained_keys)

__all__ = [
    'backbone_feature_channels', 'check_neck_channels', 'check_pretrained_keys',
    'CPUDistributedDataParallel', 'setup_cpu_distributed'
]
