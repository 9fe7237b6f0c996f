"""The command line tools/model_converters/timm_sknet_to_mmresfam.py (the rules themselves are
tested in tests/test_convert/test_convert_sknet.py)."""
import os.path as osp

import pytest
import torch

timm = pytest.importorskip('timm')

def test_cli(tool, tmp_path, repo_root):
    src, dst = str(tmp_path / 'timm.pth'), str(tmp_path / 'ours.pth')
    torch.save(timm.create_model('skresnet18', pretrained=False).state_dict(), src)
    result = tool(osp.join(repo_root, 'tools/model_converters/timm_sknet_to_mmresfam.py'),
                  src, dst)
    assert result.returncode == 0, result.stderr
    assert 'mapped' in result.stdout and "'depth': 18" in result.stdout
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert 'backbone.layer1.0.conv1.branches.0.conv.weight' in ckpt['state_dict']
    bad = str(tmp_path / 'bad.pth')
    torch.save({'foo.weight': torch.zeros(1)}, bad)
    result = tool(osp.join(repo_root, 'tools/model_converters/timm_sknet_to_mmresfam.py'),
                  bad, dst)
    assert result.returncode != 0 and 'unrecognised state_dict' in result.stderr
