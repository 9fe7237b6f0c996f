"""The pre-activation demo configs (ResNetV2-18, Attention-92 for 32x32) train one digits epoch."""
import time

import pytest
from mmengine.config import Config

from conftest import run_tool

DEMOS = {
    'configs/demo/resnetv2-18_1xb32_digits.py': ('mmresfam.ResNetV2', 512),
    'configs/demo/attention92-cifar_1xb32_digits.py': ('mmresfam.ResidualAttentionNet', 128),
}


@pytest.mark.parametrize('config', list(DEMOS))
def test_demo_config_head_matches_backbone(config, repo_root):
    from mmresfam.registry import MODELS
    cfg = Config.fromfile(f'{repo_root}/{config}')
    backbone_type, channels = DEMOS[config]
    assert cfg.model.backbone.type == backbone_type
    assert cfg.model.head.in_channels == channels == \
        MODELS.build(cfg.model.backbone).out_channels[-1]


@pytest.mark.parametrize('config', list(DEMOS))
def test_demo_config_trains_one_epoch(config, tmp_path, digits_root):
    start = time.time()
    proc = run_tool('tools/train.py', config, '--work-dir', str(tmp_path), '--cfg-options',
                    'train_cfg.max_epochs=1', 'train_dataloader.num_workers=0',
                    'val_dataloader.num_workers=0')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'epoch_1.pth').is_file()
    assert 'Epoch(val) [1]' in proc.stdout + proc.stderr
    print(f'{config}: one epoch in {time.time() - start:.1f} s')
