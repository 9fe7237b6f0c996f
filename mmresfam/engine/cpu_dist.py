"""Distributed training and testing without CUDA (gloo), for CI machines and laptops.

mmengine 0.10's ``pytorch`` launcher calls ``torch.cuda.set_device`` unconditionally and its
``Runner`` wraps the model in DDP with ``device_ids=[LOCAL_RANK]``, which PyTorch refuses for a
CPU module. :func:`setup_cpu_distributed` starts the process group itself (so mmengine skips
its launcher) and selects :class:`CPUDistributedDataParallel`, which drops ``device_ids`` for a
CPU module. On a machine with CUDA it does nothing.
"""
import os

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's ``MMDistributedDataParallel`` that accepts a model on the CPU.

    PyTorch's DDP requires ``device_ids=None`` for CPU modules; mmengine's runner always passes
    ``[LOCAL_RANK]``. This wrapper drops ``device_ids`` when the module's parameters are on the
    CPU and is otherwise identical.

    Args:
        module (nn.Module): The model to wrap.
        device_ids (list[int], optional): Ignored for a CPU module.
        **kwargs: Other arguments of ``MMDistributedDataParallel``.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        first = next(module.parameters(), None)
        if first is None or first.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Prepare ``cfg`` for a ``--launcher pytorch`` run on a machine without CUDA.

    Starts the process group with the config's ``env_cfg.dist_cfg.backend`` (must not be
    ``nccl``) from torchrun's environment and sets ``cfg.model_wrapper_cfg`` to
    :class:`CPUDistributedDataParallel` unless the config chose a wrapper.

    Args:
        cfg (Config): The run's config (modified in place).
        launcher (str): The ``--launcher`` value.

    Returns:
        bool: True if the CPU set-up was applied.

    Raises:
        ValueError: The backend is ``nccl``, or the launcher is not ``pytorch``.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} without a CUDA device is not supported; use '
                         "--launcher pytorch (torchrun, e.g. tools/dist_train.sh) with gloo")
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    backend = dist_cfg.get('backend', 'nccl')
    if backend == 'nccl':
        raise ValueError("env_cfg.dist_cfg.backend='nccl' needs CUDA devices; on CPU set "
                         "--cfg-options env_cfg.dist_cfg.backend=gloo")
    import torch.distributed as dist
    if not dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k not in ('backend', 'timeout')}
        if dist_cfg.get('timeout') is not None:
            import datetime
            kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
        dist.init_process_group(backend=backend, rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(type='CPUDistributedDataParallel')
    return True
