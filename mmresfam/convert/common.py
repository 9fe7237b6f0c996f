"""Rules and helpers shared by the timm -> mmresfam converters: reading a checkpoint, renaming
its keys with a clear error for the keys that no rule maps."""
from collections import OrderedDict
from typing import Callable, Dict, Iterable, Optional, Tuple

import torch

StateDict = Dict[str, torch.Tensor]

# the tensors of a BatchNorm layer
BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
# timm's / the official ResNeSt deep 3x3 stem (``conv1`` Sequential conv-bn-relu x3, ``bn1``
# after the last conv) -> mmpretrain's ``stem`` (three ConvModules); full-key regex rules
DEEP_STEM_RULES = [
    (r'^conv1\.0\.weight$', 'stem.0.conv.weight'),
    (rf'^conv1\.1\.{BN}$', r'stem.0.bn.\1'),
    (r'^conv1\.3\.weight$', 'stem.1.conv.weight'),
    (rf'^conv1\.4\.{BN}$', r'stem.1.bn.\1'),
    (r'^conv1\.6\.weight$', 'stem.2.conv.weight'),
    (rf'^bn1\.{BN}$', r'stem.2.bn.\1'),
]
LAYER_PREFIXES = ('layer1.', 'layer2.', 'layer3.', 'layer4.')


def unrecognised_layout(state_dict: StateDict, expected: str) -> ValueError:
    """The error for a state_dict that is not the converter's model.

    Args:
        state_dict (dict): The state_dict that was refused.
        expected (str): What the converter expected (its layout, in words).

    Returns:
        ValueError: naming ``expected`` and the first five keys found (sorted).
    """
    return ValueError(f'unrecognised state_dict: expected {expected}; '
                      f'first keys found: {sorted(state_dict)[:5]}')


def unwrap(checkpoint) -> StateDict:
    """The state_dict inside a checkpoint: unwraps a ``state_dict`` and then a ``model`` entry.

    Args:
        checkpoint (dict): A loaded checkpoint or state_dict.

    Returns:
        dict: The state_dict.

    Raises:
        ValueError: if the result is not a dict of tensors.
    """
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(wrapper), dict):
            checkpoint = checkpoint[wrapper]
    if not isinstance(checkpoint, dict) or not checkpoint or not all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ValueError('not a checkpoint: expected a dict of tensors (a state_dict, or a '
                         f'dict with "state_dict"/"model"), got {type(checkpoint).__name__}'
                         + (f' with keys {sorted(map(str, checkpoint))[:5]}'
                            if isinstance(checkpoint, dict) else ''))
    return checkpoint


def load_state_dict(path: str) -> StateDict:
    """Load a checkpoint file on the CPU and return its state_dict (see :func:`unwrap`).

    A ``.safetensors`` file is read with ``safetensors``; anything else with ``torch.load``
    (``weights_only=True``).

    Args:
        path (str): The checkpoint file.

    Raises:
        ValueError: if the file is not a readable checkpoint (garbage, text, truncated),
            naming the file.
    """
    try:
        if str(path).endswith('.safetensors'):
            from safetensors.torch import load_file
            checkpoint = load_file(path, device='cpu')
        else:
            checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001  pickle/zip/safetensors each raise their own type
        text = str(err)
        if 'WeightsUnpickler error:' in text:  # a pickle holding more than tensors and dicts
            detail = text.split('WeightsUnpickler error:', 1)[1].strip().splitlines()[0]
            detail = f'torch.load(weights_only=True) refuses it: {detail[:200]}'
        else:
            detail = f'{type(err).__name__}: {text.strip().splitlines()[0][:200]}' \
                if text.strip() else type(err).__name__
        raise ValueError(f'{path} is not a readable checkpoint (not a complete torch.save or '
                         f'safetensors file; {detail})') from err
    try:
        return unwrap(checkpoint)
    except ValueError as err:
        raise ValueError(f'{path}: {err}') from None


def num_head(converted: StateDict) -> int:
    """How many converted tensors belong to the classification head (``head.*``)."""
    return sum(k.startswith('head.') for k in converted)


def blocks_per_stage(state_dict: StateDict,
                     prefixes: Iterable[str] = LAYER_PREFIXES) -> Tuple[int, ...]:
    """The number of blocks of each stage: distinct indices after each stage's key prefix.

    Args:
        state_dict (dict): The source state_dict.
        prefixes (Iterable[str]): The key prefix of each stage (default ``layer1.`` ..
            ``layer4.``).
    """
    return tuple(len({k[len(p):].split('.')[0] for k in state_dict if k.startswith(p)})
                 for p in prefixes)


def rename_keys(state_dict: StateDict, rename: Callable[[str], Optional[str]], target: str,
                expected: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """``{rename(key): value}`` in the source order, values untouched.

    Args:
        state_dict (dict): The source state_dict.
        rename (Callable): Our key for a source key; returns ``None`` (or raises
            ``KeyError``/``ValueError``) for a key it cannot map.
        target (str): The target model, for the error message.
        expected (str, optional): The expected source layout, for the error message.

    Raises:
        ValueError: if any key cannot be mapped, naming how many, the first five, the
            ``target`` model and, if given, the ``expected`` layout.
    """
    out = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        try:
            new = rename(key)
        except (KeyError, ValueError):
            new = None
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        msg = (f'unrecognised state_dict: {len(unknown)} keys have no mapping to {target}, '
               f'e.g. {unknown[:5]}')
        raise ValueError(msg + (f'; expected {expected}' if expected else ''))
    return out
