"""The ``timm://NAME[.TAG]`` checkpoint scheme: timm's published weights, converted on load.

``timm://resnest50d.in1k`` fetches ``model.safetensors`` (else ``pytorch_model.bin``, as timm
does) of the Hugging Face repo ``timm/resnest50d.in1k`` with ``huggingface_hub`` (its cache,
``HF_HUB_CACHE``/``HF_HOME``, ``HF_HUB_OFFLINE`` and ``HF_ENDPOINT`` apply), converts it with
:mod:`mmresfam.convert` and returns ``dict(state_dict={backbone.*, head.fc.*}, meta=...)``.
Without a tag, timm's default tag of ``NAME`` is used. ``import mmresfam`` registers the scheme
with mmengine's ``CheckpointLoader``, so it works wherever mmengine loads a checkpoint::

    load_from = 'timm://resnest50d.in1k'                                 # a classifier
    init_cfg = dict(type='Pretrained', checkpoint='timm://resnest50d.in1k',
                    prefix='backbone.')                                  # a detector backbone
    mmpretrain.get_model(NAME, pretrained='timm://resnest50d.in1k')

In a distributed run rank 0 downloads first and the other ranks read its cache after a
barrier (as mmengine's ``http://`` loader does).
"""
from typing import Tuple

import torch

from ..convert import convert_timm, family_of

PREFIX = 'timm://'
WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')


def parse(filename: str) -> Tuple[str, str]:
    """``'timm://NAME[.TAG]'`` -> (timm model name as given, Hugging Face repo id).

    Without a tag the repo of timm's default pretrained tag is used (``timm/NAME`` if timm is
    not installed or does not know ``NAME``).

    Raises:
        ValueError: for an empty name or a model family that mmresfam does not convert
            (naming the supported families).
    """
    if not filename.startswith(PREFIX):
        raise ValueError(f'{filename!r} is not a {PREFIX}NAME[.TAG] checkpoint')
    name = filename[len(PREFIX):].strip('/')
    if not name or '/' in name:
        raise ValueError(f'{filename!r}: expected {PREFIX}NAME[.TAG], e.g. '
                         f'{PREFIX}resnest50d.in1k')
    family_of(name)
    repo_id = f'timm/{name}'
    if '.' not in name:
        try:
            from timm.models import get_pretrained_cfg
            cfg = get_pretrained_cfg(name)
        except Exception:  # noqa: BLE001  timm missing or the name unknown to it
            cfg = None
        if cfg is not None and cfg.hf_hub_id:
            repo_id = cfg.hf_hub_id  # 'timm/NAME.DEFAULT_TAG'
    return name, repo_id


def download(repo_id: str) -> str:
    """The local path of the repo's weights (``model.safetensors``, else
    ``pytorch_model.bin``), downloaded with ``huggingface_hub.hf_hub_download``.

    Raises:
        FileNotFoundError: no cached copy and no network (naming the cache folder and
            ``HF_HUB_OFFLINE``), or a repo without either file.
        ValueError: a repo that does not exist on the hub.
    """
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (EntryNotFoundError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError)
    not_cached = []
    for filename in WEIGHT_FILES:
        try:
            return hf_hub_download(repo_id, filename)
        except RepositoryNotFoundError:
            raise ValueError(f'{PREFIX}: no Hugging Face repo {repo_id} (check the model '
                             "name and tag, e.g. timm.list_pretrained('NAME*'))") from None
        except LocalEntryNotFoundError:
            not_cached.append(filename)
        except EntryNotFoundError:
            continue
    if not_cached:
        raise FileNotFoundError(
            f'{PREFIX}: {repo_id} ({" or ".join(WEIGHT_FILES)}) is not in the Hugging Face '
            f'cache {constants.HF_HUB_CACHE} and cannot be downloaded (no network, or '
            f'HF_HUB_OFFLINE={int(constants.HF_HUB_OFFLINE)}); download it once with network '
            'access, or point HF_HUB_CACHE/HF_HOME at a cache that has it')
    raise FileNotFoundError(f'{PREFIX}: the repo {repo_id} has neither of '
                            f'{" nor ".join(WEIGHT_FILES)}')


def load_from_timm(filename: str, map_location=None) -> dict:
    """mmengine checkpoint loader of ``timm://NAME[.TAG]`` (see the module docstring).

    Args:
        filename (str): ``timm://NAME[.TAG]``.
        map_location (str | torch.device | None): Where to put the tensors (CPU if None).

    Returns:
        dict: ``state_dict`` with ``backbone.*`` and ``head.fc.*`` keys and ``meta`` with the
        source (``timm://...``), the hub repo and the weights file.

    Raises:
        ValueError: unsupported family, unknown repo, or weights that do not convert.
        FileNotFoundError: not cached and not downloadable.
    """
    from mmengine.dist import barrier, get_dist_info

    from ..convert.common import load_state_dict
    name, repo_id = parse(filename)
    rank, world_size = get_dist_info()
    if rank == 0:
        path = download(repo_id)
    if world_size > 1:
        barrier()
        if rank > 0:
            path = download(repo_id)
    try:
        state_dict = load_state_dict(path)
        converted = convert_timm(state_dict, name)
    except ValueError as err:
        raise ValueError(f'{filename}: the weights {path} do not convert to mmresfam: '
                         f'{err}') from None
    if isinstance(map_location, (str, torch.device)):
        converted = {k: v.to(map_location) for k, v in converted.items()}
    return dict(state_dict=converted,
                meta=dict(source=filename, hf_hub_id=repo_id, weights=path))


def register_scheme() -> None:
    """Register :func:`load_from_timm` for ``timm://`` with mmengine's ``CheckpointLoader``
    (again on a second call, e.g. after a module reload)."""
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme(PREFIX, load_from_timm, force=True)
