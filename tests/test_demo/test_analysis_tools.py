"""MMPreTrain's own analysis tools, run as a user runs them (the scripts mmpretrain installs in
``mmpretrain/.mim/tools``), on a digits config and checkpoint of ours: Grad-CAM (``vis_cam.py``)
and the confusion matrix (``confusion_matrix.py``). The commands are the README's."""
import os.path as osp
import pickle

import mmcv
import numpy as np
import pytest

from conftest import run_tool
from test_demo._digits_model import digits_model, val_images  # noqa: F401  (fixtures)

# The checkpoints of tools/train.py hold mmengine's message hub: torch >= 2.6 must be told to
# load them as mmengine always did (tools/_cli.py does the same for our own tools).
ENV = dict(TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')


def mmpretrain_tool(*parts):
    import mmpretrain
    path = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', *parts)
    assert osp.isfile(path), f'mmpretrain installed without its tools: {path}'
    return path


def _background_colours(overlay_path, image_path):
    """Distinct colours of the Grad-CAM overlay where the digit image is black: there the
    overlay is the heat map's colour alone, so one colour means a constant (non-spatial) CAM."""
    overlay, image = mmcv.imread(overlay_path), mmcv.imread(image_path)
    assert overlay.shape == image.shape, (overlay.shape, image.shape)
    background = (image == 0).all(axis=2)
    assert background.sum() > 100
    return len(np.unique(overlay[background], axis=0))


def test_grad_cam_on_a_spatial_layer(tmp_path, digits_model, val_images):
    """``backbone.layer3`` (2x2 at 32 px) gives a map over the image; ``backbone.layer4`` is
    1x1 on a 32 px digit, so its CAM is one colour everywhere."""
    image = val_images[7][0]
    colours = {}
    for layer in ('backbone.layer3', 'backbone.layer4'):
        out = tmp_path / f'{layer}.png'
        proc = run_tool(mmpretrain_tool('visualization', 'vis_cam.py'), image,
                        digits_model['config'], digits_model['checkpoint'], '--target-layers',
                        layer, '--method', 'GradCAM', '--save-path', str(out), '--device', 'cpu',
                        env=ENV)
        assert proc.returncode == 0, proc.stderr[-3000:]
        colours[layer] = _background_colours(str(out), image)
    assert colours['backbone.layer4'] == 1
    assert colours['backbone.layer3'] >= 10, colours


def test_confusion_matrix(tmp_path, digits_model):
    root = digits_model['data_root']
    out, png = tmp_path / 'cm.pkl', tmp_path / 'cm.png'
    proc = run_tool(mmpretrain_tool('analysis_tools', 'confusion_matrix.py'),
                    digits_model['config'], digits_model['checkpoint'], '--out', str(out),
                    '--show-path', str(png), '--include-values', '--cfg-options',
                    f'test_dataloader.dataset.data_root={root}', 'test_dataloader.num_workers=0',
                    env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out, 'rb') as f:
        cm = np.asarray(pickle.load(f))
    assert cm.shape == (10, 10) and cm.sum() == 359
    # rows are the true classes: the val split has 35-37 images of each digit
    assert set(cm.sum(axis=1).tolist()) <= {35, 36, 37}
    assert 100.0 * np.trace(cm) / cm.sum() == pytest.approx(digits_model['val_top1'], abs=0.3)
    assert png.stat().st_size > 10_000
