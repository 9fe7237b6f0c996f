"""tools/deployment/pytorch2onnx.py: every registered backbone exports and matches onnxruntime."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from analysis._lib.export import export_onnx, small_backbones
from mmresfam.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = small_backbones()


def test_every_registered_backbone_is_exported():
    assert {'ResNet', 'ResNetV1c', 'ResNetV1d'} <= set(SMALL)


@pytest.mark.parametrize('name', sorted(SMALL))
def test_backbone_onnx_matches_pytorch(name, tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(dict(SMALL[name], out_indices=(0, 1, 2, 3)))
    diff, n_out = export_onnx(model, (1, 3, 32, 32), str(tmp_path / f'{name}.onnx'))
    assert n_out == 4
    assert diff <= 1e-4, f'{name}: onnxruntime differs from PyTorch by {diff}'


def test_cli_exports_classifier_with_checkpoint(tmp_path):
    from mmengine.config import Config

    from analysis._lib.zoo import build_classifier
    config = osp.join(ROOT, 'configs/demo/resnet18_1xb32_digits.py')
    model = build_classifier(Config.fromfile(config))
    ckpt = tmp_path / 'r18.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out = tmp_path / 'r18.onnx'
    res = subprocess.run([sys.executable, 'tools/deployment/pytorch2onnx.py', config, str(ckpt),
                          '--whole', '--shape', '32', '--out', str(out), '--dynamic-batch'],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-1000:] + res.stderr[-2000:]
    assert 'max abs difference' in res.stdout and out.stat().st_size > 1e5
    import numpy as np
    import onnxruntime as ort
    sess = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    logits = sess.run(None, {'input': np.zeros((3, 3, 32, 32), np.float32)})[0]
    assert logits.shape == (3, 10)  # dynamic batch, 10 digit classes


def test_cli_missing_files(tmp_path):
    res = subprocess.run([sys.executable, 'tools/deployment/pytorch2onnx.py',
                          'no/such/config.py', 'none'], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2 and 'config file not found' in res.stdout
