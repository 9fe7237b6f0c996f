"""The digits demo configs of the plugin ResNets (CBAM, SGE, scSE, A2) train one epoch on CPU."""
import pytest
import torch

from conftest import run_tool

# one epoch on a slice of the real digits data (as tests/test_tools/test_train_test_cli.py)
SHORT = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=128',
         'val_dataloader.dataset.indices=64', 'train_dataloader.num_workers=0',
         'val_dataloader.num_workers=0']

DEMOS = {
    'cbam': ('configs/demo/cbam-resnet18_1xb32_digits.py', 'cbam_after_conv2_0', 4),
    'sge': ('configs/demo/sge-resnet18_1xb32_digits.py', 'sge_after_conv2_0', 4),
    'scse': ('configs/demo/scse-resnet18_1xb32_digits.py', 'scse_after_conv2_0', 4),
    'a2': ('configs/demo/a2-resnet18_1xb32_digits.py', 'a2_after_conv2_0', 2),
}


@pytest.mark.parametrize('name', list(DEMOS))
def test_plugin_demo_config_trains_one_epoch(name, tmp_path, digits_root):
    config, plugin_key, num_stages_with_plugin = DEMOS[name]
    work = tmp_path / name
    proc = run_tool('tools/train.py', config, '--work-dir', str(work), '--cfg-options', *SHORT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Epoch(val) [1]' in log and 'accuracy/top1' in log
    ckpt = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)
    keys = list(ckpt['state_dict'])
    # the plugins were really built (and trained): one per block of the selected stages
    stages = {k.split('.')[1] for k in keys if f'.{plugin_key}.' in k}
    assert len(stages) == num_stages_with_plugin, sorted(stages)
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())
