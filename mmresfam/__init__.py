"""mmresfam: the residual network family for MMPreTrain, MMDetection and MMSegmentation.

``import mmresfam`` registers every backbone, attention module, neck and hook, the ``timm://``
checkpoint scheme with mmengine and mmresfam's models (``mmresfam_*``) with MMPreTrain's model
hub (:mod:`mmresfam.hub`).
"""
from . import datasets, engine, models  # noqa: F401  (registers everything)
from . import hub  # noqa: F401  (timm:// scheme, MMPreTrain model hub)
from .registry import HOOKS, MODELS
from .version import __version__

hub.register_all()

__all__ = ['__version__', 'MODELS', 'HOOKS']
