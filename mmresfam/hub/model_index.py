"""mmresfam's models in MMPreTrain's model hub (``mmpretrain.list_models``, ``get_model``,
``inference_model``, ``ImageClassificationInferencer``).

Naming rule: a model's name is ``mmresfam_`` followed by its config file name without ``.py``,
all lower case (``configs/resnest/resnest50_8xb32_in1k.py`` -> ``mmresfam_resnest50_8xb32_in1k``),
so no name can collide with one of MMPreTrain's. The model index is ``model-index.yml`` at the
repository root (or ``mmresfam/.mim/model-index.yml`` in an installed wheel); it imports
``configs/<family>/metafile.yml``. ``import mmresfam`` registers it, before or after MMPreTrain
has registered its own index.
"""
import os.path as osp
from typing import List, Optional

MODEL_PREFIX = 'mmresfam_'
_PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def model_name(config_path: str) -> str:
    """The model-hub name of a config file (see the naming rule above)."""
    return MODEL_PREFIX + osp.splitext(osp.basename(config_path))[0].lower()


def model_index_path() -> Optional[str]:
    """``mmresfam/.mim/model-index.yml`` if present (installed wheel), else the repository's
    ``model-index.yml``; None when neither exists (a package installed without configs)."""
    for path in (osp.join(_PACKAGE_DIR, '.mim', 'model-index.yml'),
                 osp.join(osp.dirname(_PACKAGE_DIR), 'model-index.yml')):
        if osp.isfile(path):
            return path
    return None


def registered_models() -> List[str]:
    """The mmresfam names currently in MMPreTrain's ``ModelHub``."""
    from mmpretrain.apis import ModelHub
    return sorted(k for k in ModelHub._models_dict if k.startswith(MODEL_PREFIX))


def register_models(index_path: Optional[str] = None) -> List[str]:
    """Register mmresfam's model index with MMPreTrain's ``ModelHub``.

    Registering twice is a no-op (MMPreTrain raises on a duplicate name, which would leave
    its hub unusable). Config paths in the index are relative to the index's folder.

    Args:
        index_path (str, optional): The ``model-index.yml`` (default: :func:`model_index_path`).

    Returns:
        list[str]: The mmresfam model names now registered (empty without an index).
    """
    index_path = index_path or model_index_path()
    if index_path is None:
        return []
    from mmpretrain.apis import ModelHub
    if not registered_models():
        ModelHub.register_model_index(index_path, config_prefix=osp.dirname(index_path))
    return registered_models()
