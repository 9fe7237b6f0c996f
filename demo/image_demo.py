"""Classify an image with an mmresfam model and print its top-k classes.

    python demo/image_demo.py IMAGE MODEL [--checkpoint CKPT] [--topk K] [--show-dir DIR]
        [--device DEV]

``MODEL`` is a config file (``.py``) or a model name known to MMPreTrain's ModelHub
(``mmpretrain.list_models()``; ``import mmresfam`` adds mmresfam's). The weights come from
``--checkpoint`` (a file, a URL or any scheme mmengine's ``CheckpointLoader`` knows), else from
the model's published weights (a name) or the config's ``load_from``. They must fit the model
exactly: a checkpoint with missing, unexpected or differently shaped entries is refused, never
half-loaded. Inference is MMPreTrain's ``ImageClassificationInferencer`` (the config's test
pipeline, the model's ``data_preprocessor``); ``--show-dir`` saves the image with the top-1
class and score drawn by MMPreTrain's ``UniversalVisualizer`` (images whose short edge is under
224 pixels are drawn at 224 so the text stays legible).

Errors (a missing or unreadable image, an unknown model, weights that do not fit) end in one
line; ``MMRESFAM_DEBUG=1`` shows the traceback.
"""
import argparse
import difflib
import os
import os.path as osp
import re
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
from _cli import CLIError, friendly_errors  # noqa: E402

# Short edge (pixels) below which --show-dir draws an upscaled copy of the image.
MIN_DRAW_SIZE = 224


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image', help='image file')
    parser.add_argument('model', help='config file (.py) or model name (mmpretrain.list_models)')
    parser.add_argument('--checkpoint', help='weights: a file, a URL or another mmengine scheme '
                        "(default: the model's published weights or the config's load_from)")
    parser.add_argument('--topk', type=int, default=5,
                        help='how many classes to print, best first (default 5)')
    parser.add_argument('--show-dir', help='save the image with its prediction drawn here')
    parser.add_argument('--device', default=None,
                        help="'cpu', 'cuda' or 'cuda:N' (default: cuda when available)")
    return parser.parse_args(argv)


def check_image(path):
    """Raise unless ``path`` is an image file OpenCV can decode (checked before any model is
    built, so a typo costs nothing)."""
    import mmcv
    if not osp.isfile(path):
        raise CLIError(f'IMAGE not found: {path}')
    if mmcv.imread(path) is None:
        raise CLIError(f'IMAGE {path} is not an image file OpenCV can read '
                       '(e.g. .png, .jpg, .bmp, .tif, .webp)')


def check_device(device):
    """Return ``device`` as a ``torch.device`` string, or raise naming the allowed values."""
    import torch
    if device is None:
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise CLIError(f"--device {device!r} is not a device; allowed values are 'cpu', "
                       "'cuda', 'cuda:N'") from None
    if parsed.type not in ('cpu', 'cuda'):
        raise CLIError(f"--device {device!r}: allowed device types are 'cpu' and 'cuda'")
    if parsed.type == 'cuda':
        if not torch.cuda.is_available():
            raise CLIError(f"--device {device!r}: CUDA is not available here; use --device cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise CLIError(f'--device {device!r}: this machine has '
                           f'{torch.cuda.device_count()} CUDA device(s)')
    return device


def resolve_model(model):
    """``(config, published weights or None)`` for a config path or a ModelHub name."""
    import mmresfam  # noqa: F401  (registers mmresfam's modules and model names)
    from mmengine.config import Config
    from mmpretrain.apis import ModelHub, list_models
    if model.endswith('.py'):
        if not osp.isfile(model):
            raise CLIError(f'MODEL config file not found: {model}')
        return Config.fromfile(model), None
    try:
        metainfo = ModelHub.get(model)
    except ValueError:
        names = list_models()
        close = difflib.get_close_matches(model.lower(), names, n=3, cutoff=0.6)
        hint = f'; close names: {", ".join(close)}' if close else ''
        raise CLIError(f'unknown MODEL {model!r}: not a config file (.py) and not a model name '
                       f'of mmpretrain.list_models() ({len(names)} names){hint}') from None
    return metainfo.config, metainfo.weights


def _few(keys, n=3):
    keys = sorted(keys)
    return ', '.join(keys[:n]) + (', ...' if len(keys) > n else '')


def load_weights(model, checkpoint):
    """Load ``checkpoint`` into ``model`` after checking it fits exactly.

    mmengine's ``load_checkpoint`` (which ``mmpretrain.get_model`` uses) only warns about
    missing, unexpected or mis-shaped entries and leaves those weights random; for inference
    that is a wrong model, so every difference is an error naming the counts and a few keys.
    Returns the checkpoint's ``meta`` dict.
    """
    from mmengine.runner import CheckpointLoader, load_state_dict
    try:
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu', logger='silent')
    except FileNotFoundError:
        raise CLIError(f'checkpoint not found: {checkpoint}') from None
    except Exception as e:  # a file torch cannot read: say which and why, in one line
        raise CLIError(f'cannot read checkpoint {checkpoint}: {type(e).__name__}: {e}') from None
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise CLIError(f'checkpoint {checkpoint} holds no state dict')
    # the same key revision as mmengine.runner.load_checkpoint (DataParallel/DDP wrappers)
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    own = model.state_dict()
    missing = own.keys() - state.keys()
    unexpected = state.keys() - own.keys()
    shapes = [k for k in own.keys() & state.keys()
              if tuple(getattr(state[k], 'shape', ())) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f'{len(missing)} of the model\'s {len(own)} keys missing '
                         f'({_few(missing)})')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected keys ({_few(unexpected)})')
        if shapes:
            k = sorted(shapes)[0]
            parts.append(f'{len(shapes)} shape mismatches ({k}: checkpoint '
                         f'{tuple(state[k].shape)}, model {tuple(own[k].shape)})')
        raise CLIError(f'checkpoint {checkpoint} does not fit the model: ' + '; '.join(parts))
    load_state_dict(model, state, strict=True)
    return ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}


def build_inferencer(model, checkpoint=None, device=None):
    """An ``ImageClassificationInferencer`` for ``model`` (config path or name) with the
    weights of ``checkpoint`` (default: the name's published weights, else the config's
    ``load_from``), on ``device``."""
    from mmpretrain.apis import ImageClassificationInferencer, get_model
    device = check_device(device)
    config, published = resolve_model(model)
    checkpoint = checkpoint or published or config.get('load_from')
    if not checkpoint:
        raise CLIError(f'MODEL {model} has no published weights and its config no load_from: '
                       'pass --checkpoint CKPT (a model with random weights predicts nothing)')
    net = get_model(config, pretrained=False)
    meta = load_weights(net, checkpoint)
    if 'dataset_meta' in meta:  # class names saved by the training run (mmpretrain 1.x)
        net._dataset_meta = meta['dataset_meta']
    return ImageClassificationInferencer(net, device=device)


def classify(inferencer, images, topk=5, show_dir=None, batch_size=8):
    """Top-``topk`` ``(class name, score)`` pairs, best first, for each of ``images``.

    ``show_dir``: save each image with its prediction drawn (``<show_dir>/<stem>.png``).
    """
    import mmcv
    import numpy as np
    num_classes = getattr(inferencer.model.head, 'num_classes', None)
    if topk < 1 or (num_classes is not None and topk > num_classes):
        raise CLIError(f'--topk {topk}: allowed values are 1..{num_classes}')
    kwargs = {}
    if show_dir is not None:
        os.makedirs(show_dir, exist_ok=True)
        short = min(min(mmcv.imread(p).shape[:2]) for p in images)
        kwargs = dict(show_dir=show_dir,
                      resize=MIN_DRAW_SIZE if short < MIN_DRAW_SIZE else None)
    results = inferencer(list(images), batch_size=batch_size, **kwargs)
    classes = inferencer.classes
    out = []
    for res in results:
        scores = res['pred_scores']
        order = np.argsort(-scores, kind='stable')[:topk]
        out.append([(classes[i] if classes is not None else str(i), float(scores[i]))
                    for i in order])
    return out


def main(argv=None):
    args = parse_args(argv)
    with friendly_errors('image_demo.py'):
        check_image(args.image)
        inferencer = build_inferencer(args.model, args.checkpoint, args.device)
        (top, ) = classify(inferencer, [args.image], args.topk, args.show_dir)
    print(f'{args.image}: top-{len(top)} of {args.model}')
    for rank, (name, score) in enumerate(top, 1):
        print(f'  {rank}. {name:<24s} {score:.4f}')
    if args.show_dir:
        stem = osp.splitext(osp.basename(args.image))[0]
        print(f'drawn prediction: {osp.join(args.show_dir, stem + ".png")}')


if __name__ == '__main__':
    main()
