"""tools/dataset_converters/make_shapes_coco.py and make_shapes_seg.py write datasets that the
real loaders (pycocotools, mmdet's CocoDataset, mmseg's BaseSegDataset) read correctly."""
import filecmp
import json
import os.path as osp

import numpy as np
import pytest

from dataset_converters.make_shapes_coco import CLASSES as SHAPES
from dataset_converters.make_shapes_coco import main as coco_main
from dataset_converters.make_shapes_coco import make_shapes_coco
from dataset_converters.make_shapes_seg import CLASSES as SEG_CLASSES
from dataset_converters.make_shapes_seg import main as seg_main
from dataset_converters.make_shapes_seg import make_shapes_seg


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('coco'))
    make_shapes_coco(out, num_train=6, num_val=3, size=64, seed=3, verbose=False)
    return out


@pytest.fixture(scope='module')
def seg_root(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('seg'))
    make_shapes_seg(out, num_train=4, num_val=2, size=48, seed=3, verbose=False)
    return out


def test_coco_json_boxes_and_masks(coco_root):
    from pycocotools.coco import COCO
    for split, num in (('train', 6), ('val', 3)):
        coco = COCO(osp.join(coco_root, 'annotations', f'instances_{split}2017.json'))
        assert len(coco.getImgIds()) == num
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(SHAPES)
        anns = coco.loadAnns(coco.getAnnIds())
        assert len(anns) >= num  # at least one object per image
        for ann in anns:
            img = coco.loadImgs(ann['image_id'])[0]
            assert osp.isfile(osp.join(coco_root, f'{split}2017', img['file_name']))
            x, y, w, h = ann['bbox']
            assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 64 and w > 4 and h > 4
            mask = coco.annToMask(ann)
            # the polygon's mask agrees with the stored area and lies inside the box
            assert int(mask.sum()) == ann['area']
            ys, xs = np.nonzero(mask)
            assert xs.min() >= int(x) - 1 and xs.max() <= x + w + 1
            assert ys.min() >= int(y) - 1 and ys.max() <= y + h + 1
            assert ann['iscrowd'] == 0


def test_coco_is_read_by_mmdet_with_masks(coco_root):
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    # In the mmdet scope, whatever scope an earlier test in this worker left current, and with
    # unprefixed names: 'mmdet.LoadImageFromFile' only searches mmdet's own registry, while
    # LoadImageFromFile is mmcv's (mmdet's registry finds it through its parent).
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds = CocoDataset(data_root=coco_root, ann_file='annotations/instances_train2017.json',
                         data_prefix=dict(img='train2017/'), metainfo=dict(classes=SHAPES),
                         pipeline=[dict(type='LoadImageFromFile'),
                                   dict(type='LoadAnnotations', with_bbox=True,
                                        with_mask=True)])
    assert len(ds) == 6
    sample = ds[0]
    assert sample['img'].shape == (64, 64, 3)
    n = len(sample['gt_bboxes'])
    assert n >= 1 and len(sample['gt_masks']) == n
    assert set(sample['gt_bboxes_labels'].tolist()) <= {0, 1, 2}
    # the mask pixels carry the shape colour (bright), the background is dark
    masks = sample['gt_masks'].to_ndarray().astype(bool)
    assert sample['img'][masks[0]].mean() > sample['img'][~masks.any(0)].mean() + 40


def test_seg_pairs_follow_ade20k_convention(seg_root):
    import cv2
    for split, num in (('training', 4), ('validation', 2)):
        for i in range(num):
            img = cv2.imread(osp.join(seg_root, 'images', split, f'{i:06d}.jpg'))
            label = cv2.imread(osp.join(seg_root, 'annotations', split, f'{i:06d}.png'),
                               cv2.IMREAD_UNCHANGED)
            assert img.shape == (48, 48, 3) and label.shape == (48, 48)
            values = set(np.unique(label).tolist())
            assert 1 in values and values <= {1, 2, 3, 4}  # 0 ("unlabelled") never written
            assert len(values) >= 2


def test_seg_is_read_by_mmseg_with_reduce_zero_label(seg_root):
    from mmseg.datasets import BaseSegDataset
    from mmengine.registry import DefaultScope
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    # the mmseg scope and unprefixed names, as in the COCO test above
    with DefaultScope.overwrite_default_scope('mmseg'):
        ds = BaseSegDataset(data_root=seg_root,
                            data_prefix=dict(img_path='images/training',
                                             seg_map_path='annotations/training'),
                            metainfo=dict(classes=SEG_CLASSES), reduce_zero_label=True,
                            pipeline=[dict(type='LoadImageFromFile'),
                                      dict(type='LoadAnnotations')])
    assert len(ds) == 4
    seg = ds[0]['gt_seg_map']
    assert seg.shape == (48, 48) and set(np.unique(seg).tolist()) <= {0, 1, 2, 3}
    assert (seg == 0).mean() > 0.5  # background is label 0 after reduce_zero_label


def test_same_seed_same_files(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    make_shapes_coco(a, 2, 1, 48, seed=5, verbose=False)
    make_shapes_coco(b, 2, 1, 48, seed=5, verbose=False)
    for name in ('annotations/instances_train2017.json', 'train2017/000001.png'):
        assert filecmp.cmp(osp.join(a, name), osp.join(b, name), shallow=False)
    c = str(tmp_path / 'c')
    make_shapes_coco(c, 2, 1, 48, seed=6, verbose=False)
    with open(osp.join(a, 'annotations/instances_train2017.json')) as f1, \
            open(osp.join(c, 'annotations/instances_train2017.json')) as f2:
        assert json.load(f1)['annotations'] != json.load(f2)['annotations']


def test_bad_arguments(tmp_path, capsys):
    with pytest.raises(ValueError, match='size must be >= 32'):
        make_shapes_coco(str(tmp_path), size=16, verbose=False)
    with pytest.raises(ValueError, match='num_val must be >= 1'):
        make_shapes_seg(str(tmp_path), num_val=0, verbose=False)
    with pytest.raises(SystemExit):
        coco_main(['--out', str(tmp_path / 'x'), '--num-train', '0'])
    assert 'num_train must be >= 1' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        seg_main(['--out', str(tmp_path / 'y'), '--size', '8'])
    assert 'size must be >= 32' in capsys.readouterr().err


def test_cli_writes_dataset(tmp_path, capsys):
    coco_main(['--out', str(tmp_path / 'coco'), '--num-train', '1', '--num-val', '1',
               '--size', '32'])
    assert 'make_shapes_coco] wrote' in capsys.readouterr().out
    seg_main(['--out', str(tmp_path / 'seg'), '--num-train', '1', '--num-val', '1',
              '--size', '32'])
    assert 'make_shapes_seg] wrote' in capsys.readouterr().out
    assert osp.isfile(tmp_path / 'seg' / 'annotations' / 'validation' / '000000.png')
