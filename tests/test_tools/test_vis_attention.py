"""tools/visualization/vis_attention.py writes non-empty overlays of the input image's size."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from test_tools._helpers import ROOT, load_tool

CBAM = osp.join(ROOT, 'configs/demo/cbam-resnet18_1xb32_digits.py')
PLAIN = osp.join(ROOT, 'configs/demo/resnet18_1xb32_digits.py')


def _tool():
    return load_tool('tools/visualization/vis_attention.py')


@pytest.fixture
def image(tmp_path):
    path = tmp_path / 'img.png'
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_writes_overlays_of_the_image_size(tmp_path, image):
    if not osp.isfile(CBAM):
        pytest.skip('CBAM demo config not written yet')
    out = tmp_path / 'vis'
    rc = _tool().main([CBAM, 'none', image, '--out-dir', str(out), '--size', '64'])
    assert rc == 0
    pngs = sorted(p for p in out.iterdir() if p.name != 'attention_grid.png')
    assert len(pngs) == 8  # one CBAM spatial gate per basic block of ResNet-18
    for p in pngs:
        assert p.stat().st_size > 0
        img = Image.open(p)
        assert img.size == (80, 48) and img.mode == 'RGB'
        assert np.asarray(img).std() > 0
    grid = out / 'attention_grid.png'
    assert grid.stat().st_size > 1000


def test_record_maps_restores_flags_and_overlay_size():
    import torch

    from mmresfam.registry import MODELS
    tool = _tool()
    model = MODELS.build(dict(type='mmresfam.ResNet', depth=18, plugins=[
        dict(cfg=dict(type='mmresfam.CBAM', reduction=4), position='after_conv2')]))
    model.eval()
    maps = tool.record_maps(model, torch.randn(1, 3, 64, 64))
    assert len(maps) == 8 and maps['layer1.0.cbam_after_conv2_0'].shape == (1, 16, 16)
    assert all(not m.record_attention for _, m in tool.attention_modules(model))
    img = tool.overlay(np.zeros((10, 20, 3), np.uint8), np.random.rand(4, 4))
    assert img.shape == (10, 20, 3) and img.dtype == np.uint8 and img.max() > 0


def test_model_without_attention_maps_is_an_error(tmp_path, image, capsys):
    with pytest.raises(SystemExit) as exit_:
        _tool().main([PLAIN, 'none', image, '--out-dir', str(tmp_path / 'v')])
    assert exit_.value.code == 1
    assert 'no module with spatial attention maps' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        _tool().main([PLAIN, 'none', str(tmp_path / 'missing.png')])
    assert exit_.value.code == 1
    assert 'image file not found' in capsys.readouterr().err
