"""tools/analysis/model_zoo.py and get_flops.py: the zoo table is generated from the configs."""
import os.path as osp
import subprocess
import sys

import pytest

from analysis._lib.references import registered_backbones
from analysis._lib.zoo import (classification_configs, format_zoo, missing_backbones,
                               published, published_key, zoo_rows)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def rows():
    return zoo_rows(classification_configs(), flops=False, log=lambda s: None)


def test_every_registered_backbone_is_in_the_zoo(rows):
    registered = registered_backbones()
    assert 'ResNet' in registered
    table = format_zoo(rows)
    missing = missing_backbones(rows, registered)
    assert not missing, f'registered backbones without an ImageNet config: {missing}'
    for r in rows:
        assert f"`{r['config']}`" in table
        assert r['params'] > 1e6


def test_every_config_is_a_row(rows):
    configs = classification_configs()
    assert len(rows) == len(configs) > 0
    assert not any('/mmdet/' in p or '/demo/' in p or '/_base_/' in p for p in configs)


def test_published_top1_only_for_the_published_network():
    assert published(dict(type='mmresfam.ResNet', depth=50))[0] == pytest.approx(76.55)
    assert published(dict(type='mmresfam.ResNeXt', depth=50, groups=32,
                          width_per_group=4))[0] == pytest.approx(77.90)
    # a variant nobody published gets no number
    assert published(dict(type='mmresfam.ResNet', depth=50, base_channels=32)) is None
    assert published(dict(type='mmresfam.SKNet', depth=50, groups=1)) is None
    assert published_key(dict(type='X', depth=1, radix=4)) == ('X', 1, (('radix', 4), ))


def test_get_flops_cli_resnet50(tmp_path):
    cfg = tmp_path / 'r50.py'
    cfg.write_text(
        "model = dict(type='ImageClassifier', backbone=dict(type='mmresfam.ResNet', depth=50),"
        " neck=dict(type='GlobalAveragePooling'), head=dict(type='LinearClsHead',"
        " num_classes=1000, in_channels=2048))\n")
    res = subprocess.run([sys.executable, osp.join(ROOT, 'tools/analysis/get_flops.py'),
                          str(cfg)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    # mmpretrain's published ResNet-50: 25.56 M params, 4.12 G FLOPs
    assert 'params: 25.56 M' in res.stdout
    assert 'flops:  4.1' in res.stdout
