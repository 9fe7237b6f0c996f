"""`make demo-det` and `make demo-seg`: tools/run_demo.py with the detection and segmentation
demo configs, end to end (data generated into a tmp folder, train, test, drawn predictions),
on a shortened schedule over a few images. The full runs and their numbers are in the README.
"""
import os.path as osp
import re

import cv2
import pytest

from conftest import ROOT, run_tool

DET = 'configs/demo/faster-rcnn_resnet18_fpn_1xb8-4e_shapes.py'
SEG = 'configs/demo/fcn_resnet18-d8_1xb8-3e_shapes.py'


def common_options(root):
    opts = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
            'default_hooks.checkpoint.interval=1', 'param_scheduler.1.end=2',
            'train_dataloader.dataset.indices=16', 'val_dataloader.dataset.indices=8',
            'test_dataloader.dataset.indices=8', 'default_hooks.logger.interval=1']
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={root}/',
                 f'{split}_dataloader.num_workers=0',
                 f'{split}_dataloader.persistent_workers=False']
    return opts


def run_demo(config, work, options):
    proc = run_tool('tools/run_demo.py', config, '--work-dir', str(work), '--cfg-options',
                    *options, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert osp.isfile(work / 'curves.png')
    picture = cv2.imread(str(work / 'predictions.png'))
    assert picture is not None and picture.shape[0] >= 2 * 96 and picture.shape[1] >= 4 * 96
    return proc.stdout


def test_demo_det(tmp_path):
    root = tmp_path / 'shapes_coco'
    ann = f'{root}/annotations/instances_val2017.json'
    out = run_demo(DET, tmp_path / 'work', common_options(root) + [
        'param_scheduler.1.T_max=2', f'val_evaluator.ann_file={ann}',
        f'test_evaluator.ann_file={ann}'])
    assert osp.isfile(root / 'annotations' / 'instances_train2017.json')
    found = re.search(r'shapes val bbox: bbox_mAP ([0-9.]+), bbox_mAP_50 ([0-9.]+), '
                      r'bbox_mAP_75 ([0-9.]+)', out)
    assert found, out[-2000:]
    assert all(0.0 <= float(v) <= 1.0 for v in found.groups())


def test_demo_seg(tmp_path):
    root = tmp_path / 'shapes_seg'
    out = run_demo(SEG, tmp_path / 'work', common_options(root))
    assert osp.isdir(root / 'annotations' / 'training')
    found = re.search(r'shapes val: ' + ', '.join([r'(\w+) ([0-9.]+) %'] * 3), out)
    assert found, out[-2000:]
    metrics = dict(zip(found.groups()[::2], map(float, found.groups()[1::2])))
    assert set(metrics) == {'aAcc', 'mIoU', 'mAcc'}
    assert all(0.0 <= v <= 100.0 for v in metrics.values())


def test_transfer_config_loads_the_digits_demo_checkpoint():
    """The detector of the transfer experiment takes `make demo`'s classifier as its backbone."""
    from mmengine.config import Config
    pre = Config.fromfile(osp.join(ROOT, 'configs/demo/'
                                   'faster-rcnn_resnet18-digits-pre_fpn_1xb8-4e_shapes.py'))
    scratch = Config.fromfile(osp.join(ROOT, DET))
    digits = Config.fromfile(osp.join(ROOT, 'configs/demo/resnet18_1xb32_digits.py'))
    assert pre.model.backbone.pop('init_cfg') == dict(
        type='Pretrained', checkpoint='work_dirs/demo/resnet18_1xb32_digits/epoch_8.pth',
        prefix='backbone.')
    assert pre.model == scratch.model and pre.train_cfg == scratch.train_cfg
    assert digits.train_cfg.max_epochs == 8  # the checkpoint named above is the last one
    assert digits.model.backbone.type == pre.model.backbone.type
    assert digits.model.backbone.depth == pre.model.backbone.depth


def test_unknown_scope(tmp_path):
    config = tmp_path / 'other.py'
    config.write_text("default_scope = 'mmocr'\n")
    proc = run_tool('tools/run_demo.py', str(config))
    assert proc.returncode != 0
    assert "config scope must be one of ['mmdet', 'mmpretrain', 'mmseg'], got 'mmocr'" in \
        proc.stderr
