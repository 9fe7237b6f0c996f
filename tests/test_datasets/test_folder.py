"""FolderDataset: hidden folders ignored, unknown val classes refused, bad images named."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from mmresfam.datasets import FolderDataset

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale=8, edge='short'),
            dict(type='CenterCrop', crop_size=8), dict(type='PackInputs')]


def _folder(root, split, classes, size=8, per_class=2):
    for c in classes:
        d = root / split / c
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(np.full((size, size, 3), i * 40, np.uint8)).save(d / f'{i}.png')


def _build(root, split, **kwargs):
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    return FolderDataset(data_root=str(root), data_prefix=split, pipeline=PIPELINE, **kwargs)


def test_hidden_folders_and_files_are_ignored(tmp_path):
    _folder(tmp_path, 'train', ['a', 'b', 'c'])
    _folder(tmp_path, 'val', ['b', 'c', '.ipynb_checkpoints'])
    _folder(tmp_path, 'val/c', ['.hidden'])  # val/c/.hidden/*.png
    ds = _build(tmp_path, 'val', classes_from='train')
    assert ds.metainfo['classes'] == ('a', 'b', 'c')
    # labels numbered as in train although val has no 'a'; no hidden file became a sample
    assert sorted(ds.get_data_info(i)['gt_label'] for i in range(len(ds))) == [1, 1, 2, 2]
    assert all('/.' not in ds.get_data_info(i)['img_path'] for i in range(len(ds)))


def test_val_class_that_train_lacks_is_refused(tmp_path):
    _folder(tmp_path, 'train', ['a', 'b'])
    _folder(tmp_path, 'val', ['a', 'b', 'stray'])
    with pytest.raises(ValueError, match=r"\['stray'\] are not classes of .*train"):
        _build(tmp_path, 'val', classes_from='train')


def test_larger_image_is_resized_to_the_trained_size(tmp_path):
    _folder(tmp_path, 'val', ['a'])
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / 'val' / 'a' / 'big.png')
    ds = _build(tmp_path, 'val')
    assert {tuple(ds[i]['inputs'].shape) for i in range(len(ds))} == {(3, 8, 8)}


@pytest.mark.parametrize('content', [b'', b'not an image at all'])
def test_corrupt_or_empty_image_names_the_file(tmp_path, content):
    _folder(tmp_path, 'val', ['a'])
    (tmp_path / 'val' / 'a' / 'broken.png').write_bytes(content)
    ds = _build(tmp_path, 'val', test_mode=True)
    idx = [i for i in range(len(ds)) if ds.get_data_info(i)['img_path'].endswith('broken.png')]
    with pytest.raises(ValueError, match=r'cannot load image .*broken\.png'):
        ds[idx[0]]


def test_digits_configs_test_at_the_trained_size():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, "configs/_base_/datasets/digits_bs32.py"))
    crops = [t for t in cfg.test_pipeline if t['type'] == 'CenterCrop']
    assert crops and crops[0]['crop_size'] == 32
    assert cfg.val_dataloader.dataset.classes_from == 'train'
