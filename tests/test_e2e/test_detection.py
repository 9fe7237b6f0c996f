"""End-to-end detection on CPU: the real configs/mmdet configs through tools/train.py and
tools/test.py on a generated COCO-format shapes dataset, plus a classification checkpoint written
by tools/train.py loaded into the detector backbone through ``init_cfg``.

Only ``--cfg-options`` adapt the configs: data paths and classes, a 96-px image size, a short
schedule (12 iterations on 4 fixed images, no flip, so the loss must fall) and fewer sampled
RoIs/proposals to keep the CPU time small.
"""
import glob
import json
import math
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, run_tool
from dataset_converters.make_shapes_coco import CLASSES, make_shapes_coco

RESNEST = 'configs/mmdet/faster-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py'
SERESNET = 'configs/mmdet/faster-rcnn_seresnet50_fpn_syncbn_1x_coco.py'
SIZE = 96
RESNEST_ARGS = ['model.backbone.depth=50', 'model.backbone.stem_channels=64',
                'model.backbone.radix=2', 'model.backbone.reduction_factor=4',
                'model.backbone.avd=True', 'model.backbone.avd_first=False']


@pytest.fixture(scope='module')
def shapes_coco(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('shapes_coco'))
    make_shapes_coco(out, num_train=8, num_val=4, size=SIZE, seed=0, verbose=False)
    return out


@pytest.fixture(scope='module')
def cls_ckpt(tmp_path_factory, digits_root):
    """A ResNeSt-50 digits classifier trained by tools/train.py (a few iterations)."""
    work = tmp_path_factory.mktemp('cls')
    proc = run_tool(
        'tools/train.py', 'configs/demo/resnet18_1xb32_digits.py', '--work-dir', str(work),
        '--no-validate', '--cfg-options', 'model.backbone.type=mmresfam.ResNeSt',
        *RESNEST_ARGS, 'model.head.in_channels=2048', 'train_cfg.max_epochs=1',
        'train_dataloader.dataset.indices=16', 'train_dataloader.batch_size=8',
        'train_dataloader.num_workers=0', 'default_hooks.checkpoint.save_best=None',
        timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = work / 'epoch_1.pth'
    assert ckpt.is_file()
    return str(ckpt)


def data_options(root, train_scale):
    """--cfg-options that point a COCO config at the shapes dataset."""
    opts = [f'val_evaluator.ann_file={root}/annotations/instances_val2017.json',
            f'test_evaluator.ann_file={root}/annotations/instances_val2017.json',
            f'model.roi_head.bbox_head.num_classes={len(CLASSES)}',
            f'train_dataloader.dataset.pipeline.2.scale={train_scale}',
            'train_dataloader.dataset.pipeline.3.prob=0.0',  # RandomFlip off: a fixed set
            'train_dataloader.dataset.indices=4', 'train_dataloader.batch_size=2']
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={root}/',
                 f"{split}_dataloader.dataset.metainfo.classes=({','.join(CLASSES)})",
                 f'{split}_dataloader.num_workers=0',
                 f'{split}_dataloader.persistent_workers=False']
    opts += [f'{split}_dataloader.dataset.pipeline.1.scale=({SIZE},{SIZE})'
             for split in ('val', 'test')]
    return opts


# 6 epochs x 2 iterations: a 3-iteration warm-up (mmdet's is 500) and gradient clipping keep the
# randomly initialised heads stable at lr 0.02; logged every iteration; fewer RoIs and proposals
# (the RoI head dominates the CPU time at this image size).
SCHEDULE = ['train_cfg.max_epochs=6', 'param_scheduler.0.start_factor=0.25',
            'param_scheduler.0.end=3', 'optim_wrapper.clip_grad.max_norm=10',
            'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.interval=6',
            'model.train_cfg.rpn.sampler.num=64', 'model.train_cfg.rcnn.sampler.num=32',
            'model.test_cfg.rpn.nms_pre=100', 'model.test_cfg.rpn.max_per_img=20',
            # after 12 iterations few scores pass mmdet's 0.05: keep every box for CocoMetric
            'model.test_cfg.rcnn.score_thr=0.0',
            # a fixed seed (the runtime's is None): whether 12 iterations lower the loss by 10 %
            # must not depend on the draw of the random heads and samplers
            'randomness.seed=0']
ITERS = 12


def logged_losses(work_dir):
    (scalars, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        rows = [json.loads(line) for line in f]
    return [r['loss'] for r in rows if 'loss' in r], rows


def train_and_test(config, work_dir, options):
    proc = run_tool('tools/train.py', config, '--work-dir', str(work_dir), '--no-validate',
                    '--cfg-options', *options, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = proc.stdout + proc.stderr
    losses, rows = logged_losses(work_dir)
    assert len(losses) == ITERS
    assert all(math.isfinite(v) for r in rows for k, v in r.items() if k.startswith('loss'))
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.9 * first, f'loss did not fall: {losses}'
    rpn = [r['loss_rpn_cls'] for r in rows if 'loss_rpn_cls' in r]
    assert rpn[-1] < rpn[0]
    ckpt = work_dir / 'epoch_6.pth'
    assert ckpt.is_file()

    proc = run_tool('tools/test.py', config, str(ckpt), '--work-dir', str(work_dir / 'test'),
                    '--cfg-options', *options, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    metrics = dict(re.findall(r'(coco/bbox_mAP\w*): (-?[0-9.]+)', proc.stdout))
    assert {'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'} <= set(metrics), proc.stdout
    assert 0.0 <= float(metrics['coco/bbox_mAP']) <= 1.0
    return log


def test_classification_checkpoint_loads_into_detector(cls_ckpt, monkeypatch):
    """Every backbone weight of the detector comes from the classifier (prefix 'backbone.')."""
    # mmengine checkpoints hold its message hub: torch>=2.6 needs the pre-2.6 torch.load
    # default for them, as tools/_cli.py sets for the tools
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(ROOT, RESNEST))
    cfg.model.backbone.init_cfg.checkpoint = cls_ckpt
    model = MODELS.build(cfg.model)
    model.init_weights()
    source = torch.load(cls_ckpt, map_location='cpu', weights_only=False)['state_dict']
    own = model.backbone.state_dict()
    missing = [k for k in own if f'backbone.{k}' not in source]
    assert not missing, missing
    for k, v in own.items():
        assert torch.equal(v, source[f'backbone.{k}']), k


def test_faster_rcnn_resnest50_end_to_end(shapes_coco, cls_ckpt, tmp_path):
    """The ResNeSt-50 recipe, its backbone initialised from the tools/train.py classifier."""
    log = train_and_test(
        RESNEST, tmp_path / 'resnest',
        data_options(shapes_coco, f'[({SIZE},{SIZE}),({SIZE},{SIZE})]') + SCHEDULE +
        [f'model.backbone.init_cfg.checkpoint={cls_ckpt}'])
    assert f'load backbone. in model from: {cls_ckpt}' in log
    assert 'missing keys in source state_dict' not in log


def test_faster_rcnn_seresnet50_end_to_end(shapes_coco, tmp_path):
    """A second family, randomly initialised: its BN must then be trained (norm_eval=False),
    since the 1x recipe's frozen statistics only make sense for pretrained weights. It runs
    with channels_last=True: FPN, RPN and mmcv's RoIAlign downstream get NCHW outputs."""
    train_and_test(SERESNET, tmp_path / 'seresnet',
                   data_options(shapes_coco, f'({SIZE},{SIZE})') + SCHEDULE +
                   ['model.backbone.init_cfg=None', 'model.backbone.norm_eval=False',
                    'model.backbone.channels_last=True'])
