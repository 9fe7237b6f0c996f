"""mmresfam's models in MMPreTrain's model hub: names, registration order, get_model,
inference_model and ImageClassificationInferencer, and OpenMMLab weights from a pre-filled torch
hub cache (nothing is downloaded)."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

import mmresfam  # noqa: F401  (registers the model index)
from mmresfam.hub import MODEL_PREFIX, model_name, registered_models

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = 'mmresfam_skresnet18_8xb32_in1k'  # the smallest ImageNet config


def _classification_configs():
    import glob
    return [p for p in sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py')))
            if osp.basename(osp.dirname(p)) not in ('_base_', 'demo', 'mmdet', 'mmseg')
            and not osp.basename(p).startswith('_')]


def test_naming_rule():
    assert model_name('configs/resnest/resnest50_8xb32_in1k.py') == \
        'mmresfam_resnest50_8xb32_in1k'
    assert model_name('configs/resnext/ResNeXt50-32x4d_8xb32_in1k.py') == \
        'mmresfam_resnext50-32x4d_8xb32_in1k'


def test_every_imagenet_config_is_registered():
    names = registered_models()
    assert names == sorted(model_name(p) for p in _classification_configs())
    assert all(n.startswith(MODEL_PREFIX) and n == n.lower() for n in names)


def test_list_models_and_metainfo():
    from mmpretrain import list_models
    from mmpretrain.apis import ModelHub
    resnest = list_models('*resnest*')
    assert {f'mmresfam_resnest{d}_8xb32_in1k' for d in (50, 101, 200, 269)} <= set(resnest)
    assert 'resnet50_8xb32_in1k' in list_models('resnet50')  # MMPreTrain's own still there
    assert set(registered_models()) <= set(list_models('mmresfam', task='Image Classification'))
    meta = ModelHub.get('mmresfam_resnest50_8xb32_in1k')
    assert meta.config.model.backbone.type == 'mmresfam.ResNeSt'
    assert meta.weights == 'timm://resnest50d.in1k'


@pytest.mark.parametrize('first', ['mmpretrain', 'mmresfam'])
def test_registration_order(first, tmp_path):
    """In a fresh process: MMPreTrain's index loaded before or after ``import mmresfam``."""
    code = {
        'mmpretrain': 'import mmpretrain\nn = len(mmpretrain.list_models())\nimport mmresfam\n',
        'mmresfam': 'import mmresfam, mmpretrain\nn = 0\n',
    }[first] + (
        "ours = mmpretrain.list_models('mmresfam_*')\n"
        "assert len(mmpretrain.list_models()) > n\n"
        "import mmresfam.hub\n"
        "assert mmresfam.hub.register_models() == ours\n"  # a second registration: no-op
        "print(len(ours), 'resnet50_8xb32_in1k' in mmpretrain.list_models('resnet50'),\n"
        "      mmpretrain.get_model('mmresfam_resnet50_8xb32_in1k').backbone.__class__.__module__)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                          text=True, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    count, theirs, module = proc.stdout.split()
    assert int(count) == len(registered_models()) and theirs == 'True'
    assert module.startswith('mmresfam.models.backbones')


@pytest.fixture
def image(tmp_path):
    import cv2
    path = str(tmp_path / 'image.png')
    cv2.imwrite(path, np.random.default_rng(0).integers(0, 255, (96, 128, 3), np.uint8))
    return path


def test_inference_model_and_inferencer(image):
    from mmpretrain import ImageClassificationInferencer, get_model, inference_model
    model = get_model(SMALL, pretrained=False)
    torch.manual_seed(0)
    result = inference_model(model, image)
    assert 0 <= result['pred_label'] < 1000 and isinstance(result['pred_class'], str)
    by_name = inference_model(SMALL, image, pretrained=False)
    assert set(by_name) >= {'pred_label', 'pred_score', 'pred_class'}
    inferencer = ImageClassificationInferencer(SMALL, pretrained=False)
    out = inferencer(image)[0]
    assert out['pred_scores'].shape == (1000, )
    assert abs(float(out['pred_scores'].sum()) - 1) < 1e-4


def test_openmmlab_weights_from_prefilled_torch_cache(tmp_path, monkeypatch):
    """``get_model(NAME, pretrained=True)`` with an OpenMMLab URL reads torch hub's
    ``checkpoints/<file name>`` when present: a random-weight file of that name loads strictly
    (every key, every value), offline."""
    from mmpretrain import get_model
    from mmpretrain.apis import ModelHub
    name = 'mmresfam_resnet50_8xb32_in1k'
    url = ModelHub.get(name).weights
    assert url.startswith('https://download.openmmlab.com/')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cache = osp.join(torch.hub.get_dir(), 'checkpoints')  # $TORCH_HOME/hub/checkpoints
    assert cache.startswith(str(tmp_path))
    os.makedirs(cache)
    torch.manual_seed(1)
    random = get_model(name, pretrained=False).state_dict()
    random = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in random.items()}
    torch.save(dict(state_dict=random, meta=dict()), osp.join(cache, osp.basename(url)))
    model = get_model(name, pretrained=True)
    loaded = model.state_dict()
    assert set(loaded) == set(random)
    assert all(torch.equal(loaded[k], random[k]) for k in random)
