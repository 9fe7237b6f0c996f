"""tools/analysis/family_detection.py: the derived configs, and the whole tool on a tiny run
(one family, one epoch of 8 images). The measurement itself is in docs/family_detection.md."""
import json
import os.path as osp

import pytest
from PIL import Image

from conftest import run_tool
from dataset_converters.make_shapes_coco import make_shapes_coco
from test_tools._helpers import ROOT, load_tool


@pytest.fixture(scope='module')
def fam():
    return load_tool('tools/analysis/family_detection.py')


@pytest.mark.parametrize('name', ['ResNet-50', 'ResNeSt-50', 'Attention-56'])
def test_only_the_backbone_differs_from_the_demo(fam, name):
    from mmengine.config import Config
    config = osp.join(ROOT, 'configs', 'mmdet', fam.FAMILIES[name])
    own = Config.fromfile(config)
    cfg = fam.family_config(config, 3, data_root='/tmp/x', num_train=5)
    demo = Config.fromfile(osp.join(ROOT, fam.DEMO))
    # the family's backbone from random weights, the FPN reading its widths ...
    assert cfg.model.backbone.type == own.model.backbone.type
    assert cfg.model.backbone.get('depth') == own.model.backbone.get('depth')
    assert cfg.model.backbone.init_cfg is None and cfg.model.backbone.norm_eval is False
    assert cfg.model.neck.in_channels == own.model.neck.in_channels
    # ... everything else from the demo, the schedule shortened to 3 epochs
    for key in ('rpn_head', 'roi_head', 'train_cfg', 'test_cfg', 'data_preprocessor'):
        assert cfg.model[key] == demo.model[key], key
    assert cfg.model.neck.out_channels == demo.model.neck.out_channels
    assert cfg.optim_wrapper == demo.optim_wrapper
    assert cfg.train_dataloader.dataset.pipeline == demo.train_dataloader.dataset.pipeline
    assert cfg.train_dataloader.dataset.data_root == '/tmp/x/'
    assert cfg.train_dataloader.dataset.indices == 5
    assert cfg.test_evaluator.ann_file == '/tmp/x/annotations/instances_val2017.json'
    assert cfg.train_cfg.max_epochs == 3
    cosine = [s for s in cfg.param_scheduler if s.type == 'CosineAnnealingLR']
    assert [(s.T_max, s.end) for s in cosine] == [(3, 3)]


def test_bad_epochs(fam):
    with pytest.raises(fam.CLIError, match='--epochs must be >= 1, got 0'):
        fam.family_config(osp.join(ROOT, 'configs', 'mmdet', fam.FAMILIES['ResNet-50']), 0)


def test_tiny_run_writes_table_chart_and_json(tmp_path):
    data = tmp_path / 'shapes'
    make_shapes_coco(str(data), num_train=8, num_val=4, size=128, seed=0, verbose=False)
    out, js, png = tmp_path / 'table.md', tmp_path / 'rows.json', tmp_path / 'chart.png'
    args = ['tools/analysis/family_detection.py', 'configs/mmdet/' +
            'faster-rcnn_resnet50_fpn_syncbn_1x_coco.py', '--epochs', '1', '--data-root',
            str(data), '--work-dir', str(tmp_path / 'work'), '--out', str(out), '--json',
            str(js), '--png', str(png)]
    proc = run_tool(*args, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (row, ) = json.loads(js.read_text())
    assert 0.0 <= row['mAP'] <= row['mAP_50'] <= 1.0
    # ResNet-50 (mmpretrain's count without the fc head): 23.5 M parameters
    assert abs(row['backbone_params'] / 1e6 - 23.51) < 0.01
    assert row['detector_params'] > row['backbone_params'] and row['s_per_iter'] > 0
    table = out.read_text()
    assert '| faster-rcnn_resnet50_fpn_syncbn_1x_coco |' in table and '23.51' in table
    assert Image.open(png).size[0] > 100
    # a second call reuses the finished run
    proc = run_tool(*args, timeout=300)
    assert proc.returncode == 0 and 'reuse' in proc.stdout
