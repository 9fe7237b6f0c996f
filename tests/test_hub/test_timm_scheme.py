"""The ``timm://NAME[.TAG]`` checkpoint scheme, offline: a hub cache in a temporary folder holds
randomly initialised timm weights; loading them through mmengine (``load_checkpoint``, a
``Pretrained`` init_cfg in a Faster R-CNN, ``mmpretrain.get_model``) gives timm's features."""
import os
import subprocess
import sys

import pytest
import torch

import mmresfam  # noqa: F401  (registers the scheme)
from mmresfam.hub import timm_scheme
from test_hub._hub_cache import random_timm, save_to_hub_cache

timm = pytest.importorskip('timm')
pytest.importorskip('huggingface_hub')


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty offline hub cache: ``huggingface_hub`` reads its settings once, at import, so
    the test points its constants (and the environment, for subprocesses) at ``tmp_path``."""
    from huggingface_hub import constants
    cache = tmp_path / 'hub'
    cache.mkdir()
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(cache))
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', True)
    monkeypatch.setenv('HF_HUB_CACHE', str(cache))
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    return cache


def _close(a, b, tol=1e-4):
    """Equal within ``tol`` of the larger of 1 and the features' scale."""
    scale = max(1.0, float(a.abs().max()))
    return float((a - b).abs().max()) / scale < tol


def test_scheme_is_registered():
    from mmengine.runner import CheckpointLoader
    assert CheckpointLoader._get_checkpoint_loader('timm://resnest50d.in1k') is \
        timm_scheme.load_from_timm


def test_parse_resolves_timm_default_tag():
    assert timm_scheme.parse('timm://resnest50d.in1k') == ('resnest50d.in1k',
                                                           'timm/resnest50d.in1k')
    assert timm_scheme.parse('timm://resnest50d') == ('resnest50d', 'timm/resnest50d.in1k')
    assert timm_scheme.parse('timm://skresnet18')[1] == 'timm/skresnet18.ra_in1k'


def test_classifier_by_name_gives_timm_logits(hub_cache):
    from mmpretrain import get_model
    ref = random_timm('skresnet18')
    save_to_hub_cache(hub_cache, 'skresnet18.ra_in1k', ref.state_dict())
    model = get_model('mmresfam_skresnet18_8xb32_in1k', pretrained='timm://skresnet18.ra_in1k')
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert _close(model(x, mode='tensor'), ref(x))
        assert _close(model.extract_feat(x)[0], ref.forward_features(x).mean((2, 3)))


def test_bin_weights_and_load_checkpoint(hub_cache):
    """A repo with ``pytorch_model.bin`` only (older timm uploads); the default tag."""
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS
    ref = random_timm('resnest14d')
    save_to_hub_cache(hub_cache, 'resnest14d.gluon_in1k', ref.state_dict(), 'pytorch_model.bin')
    model = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='mmresfam.ResNeSt', depth=14),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048))).eval()
    ckpt = load_checkpoint(model, 'timm://resnest14d', map_location='cpu', strict=True)
    assert ckpt['meta']['hf_hub_id'] == 'timm/resnest14d.gluon_in1k'
    assert ckpt['meta']['weights'].endswith('pytorch_model.bin')
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {'backbone', 'head'}
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert _close(model(x, mode='tensor'), ref(x))


def test_faster_rcnn_backbone_from_pretrained_init_cfg(hub_cache, repo_root):
    """MMDetection's way in: ``init_cfg=dict(type='Pretrained', checkpoint='timm://...',
    prefix='backbone.')`` in this repository's Faster R-CNN ResNeSt-50 config."""
    from mmengine.config import Config
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    ref = random_timm('resnest50d')
    save_to_hub_cache(hub_cache, 'resnest50d.in1k', ref.state_dict())
    cfg = Config.fromfile(os.path.join(
        repo_root, 'configs/mmdet/faster-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py'))
    cfg.model.backbone.init_cfg.checkpoint = 'timm://resnest50d.in1k'
    cfg.model.backbone.norm_cfg = dict(type='BN', requires_grad=True)
    cfg.model.roi_head.bbox_head.norm_cfg = dict(type='BN', requires_grad=True)
    register_all_modules()
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    detector.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = detector.backbone(x)
        theirs = ref.forward_intermediates(x, indices=4, intermediates_only=True)  # layer1-4
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and _close(a, b)


def test_unsupported_family_names_the_supported_ones():
    with pytest.raises(ValueError, match=r"timm model 'efficientnet_b0.ra_in1k' is not of a "
                       r'family mmresfam converts; supported: ResNeSt .*SK-ResNet'):
        timm_scheme.load_from_timm('timm://efficientnet_b0.ra_in1k')


def test_not_cached_and_offline_names_the_cache(hub_cache):
    with pytest.raises(FileNotFoundError) as err:
        timm_scheme.load_from_timm('timm://resnest50d.in1k')
    msg = str(err.value)
    assert '\n' not in msg
    assert 'timm/resnest50d.in1k' in msg and str(hub_cache) in msg
    assert 'HF_HUB_OFFLINE=1' in msg


def test_weights_that_do_not_convert(hub_cache):
    other = timm.create_model('resnet18', pretrained=False).state_dict()
    save_to_hub_cache(hub_cache, 'resnest14d.gluon_in1k', other)
    with pytest.raises(ValueError, match=r'timm://resnest14d.gluon_in1k: the weights .*'
                       r'model.safetensors do not convert to mmresfam: unrecognised state_dict'):
        timm_scheme.load_from_timm('timm://resnest14d.gluon_in1k')
    save_to_hub_cache(hub_cache, 'resnest26d.gluon_in1k', b'not a safetensors file',
                      'model.safetensors')
    with pytest.raises(ValueError, match='do not convert to mmresfam: .* is not a readable '
                       'checkpoint'):
        timm_scheme.load_from_timm('timm://resnest26d.gluon_in1k')


def test_rank_zero_downloads_first(monkeypatch):
    """With 2 ranks, rank 0 fetches before the barrier and rank 1 after it."""
    import mmengine.dist
    events = []
    sd = timm.create_model('resnest14d', pretrained=False).state_dict()
    monkeypatch.setattr(timm_scheme, 'download', lambda repo: events.append('download') or 'x')
    monkeypatch.setattr('mmresfam.convert.common.load_state_dict', lambda path: sd)
    monkeypatch.setattr(mmengine.dist, 'barrier', lambda: events.append('barrier'))
    for rank, expected in ((0, ['download', 'barrier']), (1, ['barrier', 'download'])):
        events.clear()
        monkeypatch.setattr(mmengine.dist, 'get_dist_info', lambda r=rank: (r, 2))
        ckpt = timm_scheme.load_from_timm('timm://resnest14d.gluon_in1k')
        assert events == expected and 'backbone.stem.0.conv.weight' in ckpt['state_dict']


def test_environment_variables_in_a_fresh_process(tmp_path, repo_root):
    """``HF_HUB_CACHE``/``HF_HUB_OFFLINE`` set before Python starts, as a user would."""
    cache = tmp_path / 'hub'
    ref = timm.create_model('resnest14d', pretrained=False)
    save_to_hub_cache(cache, 'resnest14d.gluon_in1k', ref.state_dict())
    code = ('import mmresfam\n'
            'from mmengine.runner import CheckpointLoader\n'
            "ckpt = CheckpointLoader.load_checkpoint('timm://resnest14d.gluon_in1k')\n"
            "print('tensors', len(ckpt['state_dict']))\n"
            "CheckpointLoader.load_checkpoint('timm://resnest26d.gluon_in1k')\n")
    env = dict(os.environ, PYTHONPATH=repo_root, HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE='1')
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                          text=True, timeout=300, cwd=str(tmp_path))
    assert f'tensors {len(ref.state_dict())}' in proc.stdout.splitlines()
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('FileNotFoundError: timm://: timm/resnest26d.gluon_in1k')
    assert str(cache) in last and 'HF_HUB_OFFLINE=1' in last
