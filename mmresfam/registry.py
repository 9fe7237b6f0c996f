"""mmresfam registries.

Every registry is a direct child of mmengine's root registry with scope ``mmresfam``. mmengine
resolves a ``'mmresfam.Name'`` key from *any* child of the root (``mmpretrain``, ``mmdet``,
``mmseg`` ...) through the root's direct children, and imports ``mmresfam.registry`` on the way,
so ``type='mmresfam.ResNeSt'`` works unchanged from an MMPreTrain, MMDetection or MMSegmentation
config. ``locations`` makes the first look-up import the modules that register the classes.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope='mmresfam', locations=['mmresfam.models'])
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope='mmresfam', locations=['mmresfam.engine'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope='mmresfam', locations=['mmresfam.datasets'])

__all__ = ['MODELS', 'HOOKS', 'DATASETS']
