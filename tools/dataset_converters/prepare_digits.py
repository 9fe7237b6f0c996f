"""Write scikit-learn's UCI handwritten digits as an ImageNet-style image folder.

The 1,797 real 8x8 grey-level images (16 levels) ship with scikit-learn, so nothing is
downloaded. They are split with a fixed seed, stratified by class (80 % train / 20 % val),
upscaled to ``--size`` pixels (bicubic) and saved as PNGs::

    data/digits/train/<class>/<index>.png
    data/digits/val/<class>/<index>.png

The layout is read by mmpretrain's ``CustomDataset`` (one sub-folder per class). The script is
idempotent: an existing, complete folder is left as it is unless ``--force`` is given.

    python tools/dataset_converters/prepare_digits.py [--out data/digits] [--size 32]
"""
import argparse
import json
import os
import os.path as osp
import shutil

import numpy as np
from PIL import Image

SPLIT_SEED = 0
VAL_FRACTION = 0.2


def split_indices(labels, val_fraction=VAL_FRACTION, seed=SPLIT_SEED):
    """Stratified, seeded split: the same indices on every machine."""
    rng = np.random.RandomState(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * val_fraction))
        val.extend(idx[:n_val].tolist())
        train.extend(idx[n_val:].tolist())
    return sorted(train), sorted(val)


def to_image(pixels, size):
    """A 8x8 array of 0..16 levels as a ``size`` x ``size`` 8-bit PIL image."""
    img = Image.fromarray(np.uint8(np.round(pixels.reshape(8, 8) * 255.0 / 16.0)), mode='L')
    return img.resize((size, size), Image.BICUBIC)


def prepare(out='data/digits', size=32, force=False, verbose=True):
    """Write the folder (if needed) and return its summary dict."""
    from sklearn.datasets import load_digits
    meta_path = osp.join(out, 'meta.json')
    if osp.isfile(meta_path) and not force:
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get('size') == size:
            if verbose:
                print(f'[prepare_digits] {out} already prepared '
                      f"({meta['num_train']} train / {meta['num_val']} val)")
            return meta
    digits = load_digits()
    images, labels = digits.images, digits.target
    train_idx, val_idx = split_indices(labels)
    if osp.isdir(out):
        shutil.rmtree(out)
    pixels = []
    for split, indices in (('train', train_idx), ('val', val_idx)):
        for i in indices:
            folder = osp.join(out, split, str(labels[i]))
            os.makedirs(folder, exist_ok=True)
            img = to_image(images[i], size)
            img.save(osp.join(folder, f'{i:04d}.png'))
            if split == 'train':
                pixels.append(np.asarray(img, dtype=np.float64))
    pixels = np.stack(pixels)
    meta = dict(size=size, num_train=len(train_idx), num_val=len(val_idx),
                classes=[str(c) for c in range(10)], seed=SPLIT_SEED,
                mean=round(float(pixels.mean()), 1), std=round(float(pixels.std()), 1))
    with open(meta_path, 'w') as f:
        json.dump(meta, f, indent=2)
    if verbose:
        print(f'[prepare_digits] wrote {out}: {meta["num_train"]} train / '
              f'{meta["num_val"]} val images of {size}x{size}, '
              f'train mean {meta["mean"]} std {meta["std"]}')
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/digits', help='output folder')
    parser.add_argument('--size', type=int, default=32, help='image side in pixels')
    parser.add_argument('--force', action='store_true', help='rewrite an existing folder')
    args = parser.parse_args(argv)
    if args.size < 8:
        parser.error(f'--size must be >= 8, got {args.size}')
    prepare(args.out, args.size, args.force)


if __name__ == '__main__':
    main()
