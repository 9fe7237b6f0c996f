"""The command line tools/model_converters/timm_resnetv2_to_mmresfam.py (the rules themselves
are tested in tests/test_convert/test_convert_resnetv2.py)."""
import subprocess
import sys

import pytest
import torch

timm = pytest.importorskip('timm')

def test_cli(tmp_path, repo_root):
    src, dst = tmp_path / 'timm.pth', tmp_path / 'ours.pth'
    torch.save(timm.create_model('resnetv2_18', pretrained=False).state_dict(), src)
    proc = subprocess.run(
        [sys.executable, 'tools/model_converters/timm_resnetv2_to_mmresfam.py', str(src),
         str(dst)], cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "'depth': 18" in proc.stdout and 'head tensors' in proc.stdout
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['state_dict']['head.fc.weight'].shape == (1000, 512)
