"""The built-in digits demo data: real images, fixed stratified split, idempotent writer."""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

from dataset_converters.prepare_digits import prepare, split_indices


def _count(folder):
    return {c: len(os.listdir(osp.join(folder, c))) for c in sorted(os.listdir(folder))}


def test_split_is_stratified_and_fixed():
    from sklearn.datasets import load_digits
    labels = load_digits().target
    train, val = split_indices(labels)
    assert len(train) + len(val) == 1797 and not set(train) & set(val)
    assert split_indices(labels) == (train, val)
    for c in range(10):
        frac = np.mean(labels[val] == c) / np.mean(labels == c)
        assert 0.9 < frac < 1.1


def test_prepare_writes_imagenet_style_folder(tmp_path):
    out = str(tmp_path / 'digits')
    meta = prepare(out, size=24, verbose=False)
    train, val = _count(osp.join(out, 'train')), _count(osp.join(out, 'val'))
    assert list(train) == [str(c) for c in range(10)] == list(val)
    assert sum(train.values()) == meta['num_train'] and sum(val.values()) == meta['num_val']
    assert meta['num_train'] + meta['num_val'] == 1797
    img = Image.open(osp.join(out, 'train', '0', sorted(os.listdir(osp.join(out, 'train', '0')))[0]))
    assert img.size == (24, 24)
    assert np.asarray(img).max() > 200  # real strokes, scaled to 8-bit
    with open(osp.join(out, 'meta.json')) as f:
        assert json.load(f)['size'] == 24


def test_prepare_is_idempotent(tmp_path):
    out = str(tmp_path / 'digits')
    prepare(out, size=16, verbose=False)
    marker = osp.join(out, 'train', '0', 'marker.txt')
    open(marker, 'w').close()
    prepare(out, size=16, verbose=False)  # complete folder: left alone
    assert osp.exists(marker)
    prepare(out, size=20, verbose=False)  # another size: rewritten
    assert not osp.exists(marker)


def test_demo_config_statistics_match_the_data(digits_root):
    from mmengine.config import Config
    from conftest import ROOT
    with open(osp.join(digits_root, 'meta.json')) as f:
        meta = json.load(f)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/datasets/digits_bs32.py'))
    assert cfg.data_preprocessor.mean == [meta['mean']] * 3
    assert cfg.data_preprocessor.std == [meta['std']] * 3
