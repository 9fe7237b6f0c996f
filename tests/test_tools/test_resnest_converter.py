"""The command line tools/model_converters/timm_resnest_to_mmresfam.py (the rules themselves
are tested in tests/test_convert/test_convert_resnest.py)."""
import os.path as osp

import pytest
import torch

from analysis._lib.references import randomize_norms_

timm = pytest.importorskip('timm')


def _timm(name):
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    randomize_norms_(model)
    model.eval()
    return model

def test_cli(tmp_path, tool, repo_root):
    src, dst = tmp_path / 'timm.pth', tmp_path / 'ours.pth'
    torch.save(dict(state_dict=_timm('resnest14d').state_dict()), src)
    script = osp.join(repo_root, 'tools', 'model_converters', 'timm_resnest_to_mmresfam.py')
    res = tool(script, str(src), str(dst))
    assert res.returncode == 0, res.stderr
    assert "'depth': 14" in res.stdout and 'mapped' in res.stdout and '2 head' in res.stdout
    ckpt = torch.load(dst, weights_only=True)
    assert 'backbone.stem.0.conv.weight' in ckpt['state_dict']
    torch.save({'foo.weight': torch.zeros(1)}, src)
    res = tool(script, str(src), str(dst))
    assert res.returncode != 0 and 'unrecognised state_dict' in res.stderr
