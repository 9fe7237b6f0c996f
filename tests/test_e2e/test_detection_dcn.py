"""Faster R-CNN with deformable convs in stages 3-5 (the ``*-dconv-c3-c5_*`` configs of
configs/mmdet): each config builds with mmcv's DCN exactly in the stages it names and trains a
few iterations through tools/train.py on the generated COCO-format shapes data (the data,
``--cfg-options`` and schedule of ``test_detection.py``, cut to 2 iterations)."""
import math

import pytest
from mmcv.ops import DeformConv2dPack
from mmengine.config import Config

from conftest import ROOT, run_tool
from test_detection import SCHEDULE, SIZE, data_options, logged_losses, shapes_coco  # noqa: F401

CONFIGS = {
    'configs/mmdet/faster-rcnn_resnet50-dconv-c3-c5_fpn_syncbn_1x_coco.py': 'ResNet',
    'configs/mmdet/faster-rcnn_resnext50-32x4d-dconv-c3-c5_fpn_syncbn_1x_coco.py': 'ResNeXt',
    'configs/mmdet/faster-rcnn_s50-dconv-c3-c5_fpn_syncbn-backbone+head_ms-range-1x_coco.py':
        'ResNeSt',
}
ITERS = 2


def _deformable(block):
    conv = block.conv2.conv if hasattr(block.conv2, 'fc1') else block.conv2  # split attention
    return isinstance(conv, DeformConv2dPack)


@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_dconv_config_builds_and_trains(config, shapes_coco, tmp_path):  # noqa: F811
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(f'{ROOT}/{config}')
    assert cfg.model.backbone.type == f'mmresfam.{CONFIGS[config]}'
    assert cfg.model.backbone.stage_with_dcn == (False, True, True, True)
    cfg.model.backbone.init_cfg = None
    backbone = MODELS.build(cfg.model).backbone
    deformable = [[_deformable(b) for b in getattr(backbone, name)]
                  for name in backbone.res_layers]
    assert [all(d) for d in deformable] == [False, True, True, True]
    assert not any(deformable[0])

    # the ResNeSt recipe trains with RandomResize over a range of scales, the others Resize
    scale = f'[({SIZE},{SIZE}),({SIZE},{SIZE})]' if 's50' in config else f'({SIZE},{SIZE})'
    work_dir = tmp_path / 'work'
    schedule = [o for o in SCHEDULE if not o.startswith(('train_cfg.max_epochs',
                                                         'default_hooks.checkpoint'))]
    proc = run_tool(
        'tools/train.py', config, '--work-dir', str(work_dir), '--no-validate',
        '--cfg-options', *data_options(shapes_coco, scale), *schedule,
        'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1',
        'model.backbone.init_cfg=None', 'model.backbone.norm_eval=False', timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    losses, rows = logged_losses(work_dir)
    assert len(losses) == ITERS
    assert all(math.isfinite(v) for r in rows for k, v in r.items() if k.startswith('loss'))
    assert (work_dir / 'epoch_1.pth').is_file()
