"""``type='mmresfam.<Name>'`` resolves from MMPreTrain, MMDetection and MMSegmentation."""
import pytest
import torch
from mmcv.cnn import build_plugin_layer

import mmresfam
from mmresfam.registry import HOOKS, MODELS


def test_registries_are_direct_children_of_mmengine_root():
    from mmengine.registry import HOOKS as ROOT_HOOKS
    from mmengine.registry import MODELS as ROOT_MODELS
    assert MODELS.parent is ROOT_MODELS and MODELS.scope == 'mmresfam'
    assert HOOKS.parent is ROOT_HOOKS and HOOKS.scope == 'mmresfam'
    assert ROOT_MODELS._children['mmresfam'] is MODELS
    assert 'mmresfam.models' in MODELS._locations


@pytest.mark.parametrize('library', ['mmpretrain', 'mmdet', 'mmseg'])
def test_backbone_builds_from_each_library(library):
    import importlib
    registry = importlib.import_module(f'{library}.registry').MODELS
    model = registry.build(dict(type='mmresfam.ResNet', depth=18, out_indices=(0, 1, 2, 3)))
    assert isinstance(model, mmresfam.models.ResNet)
    outs = model(torch.rand(2, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512]


def test_unknown_name_is_a_key_error_naming_it():
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    with pytest.raises(KeyError, match='NoSuchNet'):
        PRETRAIN_MODELS.build(dict(type='mmresfam.NoSuchNet'))


def test_classifier_config_with_our_backbone():
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = PRETRAIN_MODELS.build(
            dict(type='ImageClassifier',
                 backbone=dict(type='mmresfam.ResNet', depth=18),
                 neck=dict(type='GlobalAveragePooling'),
                 head=dict(type='LinearClsHead', num_classes=10, in_channels=512)))
    assert model(torch.rand(2, 3, 32, 32), mode='tensor').shape == (2, 10)


def test_hook_resolves_from_mmengine_hooks():
    from mmengine.registry import HOOKS as ROOT_HOOKS
    hook = ROOT_HOOKS.build(dict(type='mmresfam.TrainingCurveHook'))
    assert type(hook).__name__ == 'TrainingCurveHook'


def test_every_registered_model_is_exported():
    """Names registered in our MODELS are importable from ``mmresfam.models``."""
    import mmresfam.models as models
    missing = [name for name in MODELS.module_dict if not hasattr(models, name)]
    assert not missing, missing


def test_mmcv_plugin_builder_finds_our_modules():
    """Anything with ``in_channels`` in our registry can be an mmcv/mmdet plugin."""
    candidates = [n for n in ('SE', 'CBAM', 'SGE', 'scSE') if n in MODELS.module_dict]
    for name in candidates:
        layer_name, layer = build_plugin_layer(dict(type=f'mmresfam.{name}'), in_channels=64,
                                               postfix='_t')
        assert layer_name.endswith('_t')
        x = torch.rand(2, 64, 8, 8)
        assert layer(x).shape == x.shape
