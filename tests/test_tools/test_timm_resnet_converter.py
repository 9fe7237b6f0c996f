"""The command line tools/model_converters/timm_resnet_to_mmresfam.py (the rules themselves are
tested in tests/test_convert/test_convert_resnet.py)."""
import pytest
import torch

from conftest import run_tool

timm = pytest.importorskip('timm')


def _randomised_timm(name):
    """A randomly initialised timm model (the command line only renames keys)."""
    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False).eval()

def test_cli(tmp_path):
    src, dst = tmp_path / 'timm.pth', tmp_path / 'ours.pth'
    sd = _randomised_timm('resnet18').state_dict()
    torch.save(dict(state_dict=sd), src)
    proc = run_tool('tools/model_converters/timm_resnet_to_mmresfam.py', str(src), str(dst))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "backbone: {'type': 'mmresfam.ResNet', 'depth': 18}" in proc.stdout
    assert f'mapped {len(sd)} tensors (0 renamed beyond the prefix, 2 head tensors)' \
        in proc.stdout
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert 'backbone.layer4.1.bn2.running_var' in ckpt['state_dict']
    bad = tmp_path / 'bad.pth'
    torch.save({'foo.weight': torch.zeros(1)}, bad)
    proc = run_tool('tools/model_converters/timm_resnet_to_mmresfam.py', str(bad), str(dst))
    assert proc.returncode != 0 and 'unrecognised state_dict' in proc.stderr
