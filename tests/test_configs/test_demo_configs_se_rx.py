"""The ResNeXt / SE-ResNet / SE-ResNeXt digits demo configs build and train one CPU epoch."""
import glob
import os.path as osp
import time

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, run_tool

DEMOS = ['resnext26-8x4d', 'seresnet26', 'seresnext26-8x4d']
TYPES = {'resnext26-8x4d': 'mmresfam.ResNeXt', 'seresnet26': 'mmresfam.SEResNet',
         'seresnext26-8x4d': 'mmresfam.SEResNeXt'}


def _config(name):
    return osp.join('configs', 'demo', f'{name}_1xb32_digits.py')


@pytest.mark.parametrize('name', DEMOS)
def test_demo_config_builds(name):
    import mmresfam  # noqa: F401
    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, _config(name)))
    assert cfg.model.backbone.type == TYPES[name]
    model = MODELS.build(cfg.model)
    assert cfg.model.head.in_channels == model.backbone.out_channels[-1]
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32), mode='tensor').shape == (2, 10)


@pytest.mark.parametrize('name', DEMOS)
def test_demo_config_trains_one_epoch(name, tmp_path, digits_root):
    start = time.time()
    proc = run_tool('tools/train.py', _config(name), '--work-dir', str(tmp_path),
                    '--cfg-options', 'train_cfg.max_epochs=1')
    elapsed = time.time() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = glob.glob(str(tmp_path / '*' / '*.log'))
    assert logs, 'no training log'
    text = open(logs[0]).read()
    assert 'Epoch(val) [1]' in text and 'accuracy/top1' in text
    assert glob.glob(str(tmp_path / 'best_accuracy_top1_epoch_1.pth'))
    print(f'{name}: one epoch + validation in {elapsed:.1f} s')
