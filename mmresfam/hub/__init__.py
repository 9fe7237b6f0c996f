"""The ways in from a name: the ``timm://`` checkpoint scheme (:mod:`.timm_scheme`) and
mmresfam's models in MMPreTrain's model hub (:mod:`.model_index`). ``import mmresfam`` calls
:func:`register_all`."""
from .model_index import MODEL_PREFIX, model_name, register_models, registered_models
from .timm_scheme import load_from_timm, register_scheme


def register_all() -> None:
    """Register the ``timm://`` scheme with mmengine and the model index with MMPreTrain."""
    register_scheme()
    register_models()


__all__ = ['MODEL_PREFIX', 'load_from_timm', 'model_name', 'register_all', 'register_models',
           'register_scheme', 'registered_models']
