"""Overlay the spatial attention maps of a model on an image.

Usage::

    python tools/visualization/vis_attention.py CONFIG CHECKPOINT IMAGE [--out-dir vis]
        [--size 224] [--alpha 0.5] [--max-modules 16]

Every module with a ``record_attention`` flag (Residual Attention masks, CBAM/scSE spatial
gates, SGE, A2 attention maps) is switched on for one forward pass; each stored map
``(1, k, h, w)`` is averaged over ``k``, scaled to [0, 1], resized to the image and blended
over it. One PNG per module (``<out-dir>/<module name>.png``, the size of the input image)
and a grid of all of them (``<out-dir>/attention_grid.png``) are written. ``CHECKPOINT`` may
be ``none`` (random weights: shows the mechanics only).
"""
import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'tools')]  # mmresfam; _cli, analysis._lib
from _cli import (CLIError, build_model, friendly_errors, load_config,  # noqa: E402
                  load_model_checkpoint, require_file, run_main)


def attention_modules(model):
    """``[(name, module)]`` of every module that can record an attention map."""
    return [(n, m) for n, m in model.named_modules() if hasattr(m, 'record_attention')]


def record_maps(model, x):
    """Run ``model`` once with recording on; ``{name: (k, h, w) tensor}`` (flags restored)."""
    import torch
    mods = attention_modules(model)
    flags = [m.record_attention for _, m in mods]
    for _, m in mods:
        m.record_attention = True
        m.last_attention_map = None
    try:
        with torch.no_grad():
            model(x)
        out = {}
        for name, m in mods:
            amap = getattr(m, 'last_attention_map', None)
            if isinstance(amap, torch.Tensor) and amap.dim() == 4:
                out[name] = amap[0].float().cpu()
        return out
    finally:
        for (_, m), flag in zip(mods, flags):
            m.record_attention = flag


def overlay(image: np.ndarray, amap: np.ndarray, alpha: float = 0.5, cmap: str = 'jet'):
    """Blend a 2-D map (any size) over an ``(H, W, 3)`` uint8 image; returns uint8 RGB."""
    from matplotlib import colormaps
    from PIL import Image
    h, w = image.shape[:2]
    lo, hi = float(amap.min()), float(amap.max())
    norm = (amap - lo) / (hi - lo) if hi > lo else np.zeros_like(amap)
    resized = np.asarray(Image.fromarray((norm * 255).astype(np.uint8)).resize(
        (w, h), Image.BILINEAR), dtype=np.float32) / 255
    heat = colormaps[cmap](resized)[..., :3] * 255
    return (image * (1 - alpha) + heat * alpha).clip(0, 255).astype(np.uint8)


def load_image(path: str, size: int):
    """The image as uint8 RGB resized to ``size`` x ``size``."""
    from PIL import Image
    return np.asarray(Image.open(path).convert('RGB').resize((size, size), Image.BILINEAR))


def to_input(image: np.ndarray, cfg):
    """Normalise with the config's data preprocessor mean/std (ImageNet's by default)."""
    import torch
    pre = cfg.get('data_preprocessor') or cfg.model.get('data_preprocessor') or {}
    mean = np.array(pre.get('mean', [123.675, 116.28, 103.53]), np.float32)
    std = np.array(pre.get('std', [58.395, 57.12, 57.375]), np.float32)
    x = (image.astype(np.float32) - mean) / std
    return torch.from_numpy(x).permute(2, 0, 1)[None].contiguous()


def save_grid(panels, path, image):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    n = len(panels) + 1
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    items = [('input', image)] + panels
    for ax, (title, img) in zip(axes.flat, items):
        ax.imshow(img)
        ax.set_title(title, fontsize=7)
    for ax in axes.flat:
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description='overlay attention maps on an image')
    p.add_argument('config')
    p.add_argument('checkpoint', help="checkpoint file, or 'none' for random weights")
    p.add_argument('image')
    p.add_argument('--out-dir', default='vis_attention')
    p.add_argument('--size', type=int, help='network input size (default: config test crop)')
    p.add_argument('--alpha', type=float, default=0.5)
    p.add_argument('--max-modules', type=int, default=16)
    args = p.parse_args(argv)
    from PIL import Image, UnidentifiedImageError

    from analysis._lib.zoo import test_input_size
    with friendly_errors('vis_attention.py'):
        require_file(args.image, 'image')
        cfg = load_config(args.config)
        if args.checkpoint.lower() != 'none':
            require_file(args.checkpoint, 'checkpoint')
        model = build_model(cfg)
        if args.checkpoint.lower() != 'none':
            load_model_checkpoint(model, args.checkpoint, 'vis_attention.py')
        backbone = getattr(model, 'backbone', model)
        if not attention_modules(backbone):
            raise CLIError(f'{args.config}: no module with spatial attention maps '
                           '(record_attention)')
        try:
            original = np.asarray(Image.open(args.image).convert('RGB'))
        except (UnidentifiedImageError, OSError) as e:
            raise CLIError(f'{args.image} is not an image that PIL can read ({e})') from None
    model.eval()
    size = args.size or test_input_size(cfg)
    maps = record_maps(backbone, to_input(load_image(args.image, size), cfg))
    if not maps:
        print('error: the attention modules stored no map')
        return 1
    os.makedirs(args.out_dir, exist_ok=True)
    panels = []
    for name, amap in list(maps.items())[:args.max_modules]:
        img = overlay(original, amap.mean(0).numpy(), args.alpha)
        path = os.path.join(args.out_dir, name.replace('.', '_') + '.png')
        Image.fromarray(img).save(path)
        panels.append((f'{name} {tuple(amap.shape)}', img))
        print(f'{name}: map {tuple(amap.shape)} -> {path}')
    save_grid(panels, os.path.join(args.out_dir, 'attention_grid.png'), original)
    print(f"wrote {len(panels)} overlays and {os.path.join(args.out_dir, 'attention_grid.png')}")
    return 0


if __name__ == '__main__':
    run_main(main)
