"""mmresfam.engine.cpu_dist: the ``--launcher`` set-up for machines without CUDA (the
2-process run itself is tests/test_e2e/test_distributed.py)."""
import pytest


def test_cpu_launcher_setup_errors():
    """Without CUDA, nccl and the slurm/mpi launchers fail with a message saying what to use."""
    import torch
    from mmengine.config import Config

    from mmresfam.engine import setup_cpu_distributed
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert setup_cpu_distributed(cfg, 'none') is False
    if torch.cuda.is_available():  # the CPU path is only taken without CUDA
        assert setup_cpu_distributed(cfg, 'pytorch') is False
        return
    with pytest.raises(ValueError, match=r"backend='nccl' needs CUDA.*backend=gloo"):
        setup_cpu_distributed(cfg, 'pytorch')
    with pytest.raises(ValueError, match='--launcher slurm without a CUDA device'):
        setup_cpu_distributed(cfg, 'slurm')
