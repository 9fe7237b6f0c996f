"""A Hugging Face hub cache built offline for the ``timm://`` tests (import as
``test_hub._hub_cache``): randomly initialised timm models saved in the hub's cache layout."""
import hashlib
import os.path as osp

import torch


def save_to_hub_cache(cache_dir, repo_name, state_dict, filename='model.safetensors'):
    """Write ``state_dict`` as ``<cache>/models--timm--<repo_name>/snapshots/<hash>/<filename>``
    with ``refs/main`` holding the hash (what ``hf_hub_download`` finds offline).

    ``filename`` ``model.safetensors`` is written with safetensors, ``pytorch_model.bin`` with
    ``torch.save``; any other name gets the raw bytes of ``state_dict`` (garbage tests).
    """
    repo = osp.join(str(cache_dir), f'models--timm--{repo_name}')
    commit = hashlib.sha1(repo_name.encode()).hexdigest()
    snapshot = osp.join(repo, 'snapshots', commit)
    import os
    os.makedirs(snapshot, exist_ok=True)
    os.makedirs(osp.join(repo, 'refs'), exist_ok=True)
    with open(osp.join(repo, 'refs', 'main'), 'w') as f:
        f.write(commit)
    path = osp.join(snapshot, filename)
    if isinstance(state_dict, bytes):
        with open(path, 'wb') as f:
            f.write(state_dict)
    elif filename.endswith('.safetensors'):
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in state_dict.items()}, path)
    else:
        torch.save(state_dict, path)
    return path


def random_timm(name, seed=0):
    """A randomly initialised timm model in eval mode with non-trivial BatchNorm statistics and
    affine parameters (timm zero-initialises the last BN of each block)."""
    import timm

    from analysis._lib.references import randomize_norms_
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False)
    randomize_norms_(model)
    return model.eval()
