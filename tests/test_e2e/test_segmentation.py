"""End-to-end semantic segmentation on CPU: the real ResNeSt-50 DeepLabV3 config of
configs/mmseg through tools/train.py and tools/test.py on a generated ADE20K-layout dataset.

Only ``--cfg-options`` adapt the config: the dataset (``BaseSegDataset`` with the shapes
classes, ADE20K's ``reduce_zero_label`` convention), 48-px images, a short schedule (12
iterations on 4 fixed images), and a random-initialised backbone.
"""
import glob
import json
import math
import os.path as osp
import re

import pytest

from conftest import run_tool
from dataset_converters.make_shapes_seg import CLASSES, make_shapes_seg

CONFIG = 'configs/mmseg/resnest-s50-d8_deeplabv3_4xb4-160k_ade20k-512x512.py'
SIZE = 48
ITERS = 12


@pytest.fixture(scope='module')
def shapes_seg(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('shapes_seg'))
    make_shapes_seg(out, num_train=8, num_val=4, size=SIZE, seed=0, verbose=False)
    return out


def options(root):
    opts = [f'model.data_preprocessor.size=({SIZE},{SIZE})',
            f'model.decode_head.num_classes={len(CLASSES)}',
            f'model.auxiliary_head.num_classes={len(CLASSES)}',
            'model.backbone.init_cfg=None',
            f'train_dataloader.dataset.pipeline.2.scale=({SIZE},{SIZE})',
            'train_dataloader.dataset.pipeline.2.ratio_range=(1.0,1.0)',
            f'train_dataloader.dataset.pipeline.3.crop_size=({SIZE},{SIZE})',
            'train_dataloader.dataset.pipeline.4.prob=0.0',
            'train_dataloader.dataset.indices=4', 'train_dataloader.batch_size=2',
            f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
            'default_hooks.logger.interval=1', f'default_hooks.checkpoint.interval={ITERS}']
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.type=BaseSegDataset',
                 f'{split}_dataloader.dataset.data_root={root}',
                 f"{split}_dataloader.dataset.metainfo.classes=({','.join(CLASSES)})",
                 f'{split}_dataloader.dataset.reduce_zero_label=True',
                 f'{split}_dataloader.num_workers=0',
                 f'{split}_dataloader.persistent_workers=False']
    opts += [f'{split}_dataloader.dataset.pipeline.1.scale=({SIZE},{SIZE})'
             for split in ('val', 'test')]
    return opts


def test_deeplabv3_resnest50_end_to_end(shapes_seg, tmp_path):
    work = tmp_path / 'work'
    opts = options(shapes_seg)
    proc = run_tool('tools/train.py', CONFIG, '--work-dir', str(work), '--no-validate',
                    '--cfg-options', *opts, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (scalars, ) = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        rows = [json.loads(line) for line in f]
    losses = [r['loss'] for r in rows if 'loss' in r]
    assert len(losses) == ITERS
    assert all(math.isfinite(v) for r in rows for k, v in r.items() if 'loss' in k)
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.9 * first, f'loss did not fall: {losses}'
    ckpt = work / f'iter_{ITERS}.pth'
    assert ckpt.is_file()

    proc = run_tool('tools/test.py', CONFIG, str(ckpt), '--work-dir', str(tmp_path / 'test'),
                    '--cfg-options', *opts, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    metrics = dict(re.findall(r'\b(aAcc|mIoU|mAcc): ([0-9.]+)', proc.stdout))
    assert set(metrics) == {'aAcc', 'mIoU', 'mAcc'}, proc.stdout[-2000:]
    assert 0.0 <= float(metrics['mIoU']) <= 100.0
    # every class was evaluated (the per-class IoU table names them all)
    log = proc.stdout + proc.stderr
    assert all(name in log for name in CLASSES)
