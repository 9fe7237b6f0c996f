"""mmresfam: the residual network family for MMPreTrain, MMDetection and MMSegmentation.

``import mmresfam`` registers every backbone, attention module, neck and hook.
"""
from . import datasets, engine, models  # noqa: F401  (registers everything)
from .registry import HOOKS, MODELS
from .version import __version__

__all__ = ['__version__', 'MODELS', 'HOOKS']
