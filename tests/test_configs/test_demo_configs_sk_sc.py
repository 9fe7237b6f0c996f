"""Each SKNet/SCNet digits demo config trains one epoch on CPU with tools/train.py."""
import math
import re

import pytest

from conftest import run_tool

DEMOS = {
    'configs/demo/skresnet18_1xb32_digits.py': 'mmresfam.SKNet',
    'configs/demo/scnet26_1xb32_digits.py': 'mmresfam.SCNet',
}


@pytest.mark.parametrize('config', list(DEMOS))
def test_demo_config_trains_one_epoch(config, tmp_path, digits_root):
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    assert cfg.model.backbone.type == DEMOS[config]
    work = tmp_path / 'run'
    proc = run_tool('tools/train.py', config, '--work-dir', str(work), '--cfg-options',
                    'train_cfg.max_epochs=1', 'train_dataloader.num_workers=0',
                    'val_dataloader.num_workers=0')
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert (work / 'epoch_1.pth').is_file()
    assert 'Epoch(val) [1]' in log
    losses = [float(v) for v in re.findall(r'Epoch\(train\).*?loss: ([0-9.enan]+)', log)]
    assert losses and all(math.isfinite(v) for v in losses)
