"""ONNX export with an onnxruntime check (``tools/deployment/pytorch2onnx.py``)."""
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .references import registered_backbones

# Smallest member of every registered backbone (ONNX / compile tests): class -> its arguments.
# Classes not listed use the smallest depth of their ``arch_settings``.
SMALL_OVERRIDES: Dict[str, dict] = {
    'ResidualAttentionNet': dict(arch='attention56-cifar'),
}


def small_backbone_cfg(name: str) -> dict:
    """Config of the smallest member of backbone class ``name`` (all four stages out)."""
    import mmresfam  # noqa: F401
    from mmresfam.registry import MODELS
    cls = MODELS.get(name)
    cfg = dict(type=f'mmresfam.{name}')
    if name in SMALL_OVERRIDES:
        return dict(cfg, **SMALL_OVERRIDES[name])
    depths = sorted(getattr(cls, 'arch_settings', {}) or [])
    if depths:
        cfg['depth'] = depths[0]
    return cfg


def small_backbones() -> Dict[str, dict]:
    return {name: small_backbone_cfg(name) for name in registered_backbones()}


class _Outputs(nn.Module):
    """Return a tuple (ONNX-friendly) whatever the model returns."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x)
        if isinstance(out, torch.Tensor):
            return (out, )
        return tuple(out)


def export_onnx(model: nn.Module, shape: Sequence[int], path: str, opset: int = 17,
                dynamic_batch: bool = False, seed: int = 0) -> Tuple[float, int]:
    """Export ``model`` (eval mode) to ``path`` and compare onnxruntime with PyTorch.

    Returns ``(max abs difference over all outputs, number of outputs)``. A non-finite
    output (PyTorch or onnxruntime) is a ``ValueError``.
    """
    import onnxruntime as ort
    model = _Outputs(model).eval()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = model(x)
    names = [f'out{i}' for i in range(len(expected))]
    axes = {'input': {0: 'batch'}, **{n: {0: 'batch'} for n in names}} if dynamic_batch else None
    torch.onnx.export(model, (x, ), path, input_names=['input'], output_names=names,
                      opset_version=opset, dynamic_axes=axes, dynamo=False)
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    got = sess.run(None, {'input': x.numpy()})
    diff = 0.0
    for name, e, g in zip(names, expected, got):
        if tuple(e.shape) != tuple(g.shape):
            raise ValueError(f'onnxruntime output shape {g.shape} != PyTorch {tuple(e.shape)}')
        for who, out in (('PyTorch', e.numpy()), ('onnxruntime', g)):
            if not np.isfinite(out).all():  # max(0.0, nan) would hide it
                raise ValueError(f'{who} output {name} holds NaN/Inf (non-finite weights?)')
        diff = max(diff, float(np.abs(e.numpy() - g).max()))
    return diff, len(got)
