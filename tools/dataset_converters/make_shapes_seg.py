"""Generate a small semantic-segmentation dataset in the ADE20K layout read by MMSegmentation.

The scenes are those of ``make_shapes_coco.py`` (coloured circles, squares and triangles on a
noisy background). Images are JPEGs, label maps single-channel PNGs following ADE20K's
convention, where 0 means "unlabelled" and is dropped by ``reduce_zero_label=True``::

    0: unlabelled (never written)   1: background   2: circle   3: square   4: triangle

so with ``reduce_zero_label=True`` the training labels are 0..3 for
``classes=('background', 'circle', 'square', 'triangle')``. Layout::

    <out>/images/training/000000.jpg      <out>/annotations/training/000000.png
    <out>/images/validation/000000.jpg    <out>/annotations/validation/000000.png

Everything is drawn from one seed, so two runs write identical files.

    python tools/dataset_converters/make_shapes_seg.py [--out data/shapes_seg]
        [--num-train 16] [--num-val 8] [--size 64] [--seed 0]
"""
import os
import os.path as osp

import numpy as np

try:  # imported as part of the tools package (tests) or run as a script
    from .make_shapes_coco import CLASSES as SHAPES
    from .make_shapes_coco import random_scene, run_cli
except ImportError:
    from make_shapes_coco import CLASSES as SHAPES
    from make_shapes_coco import random_scene, run_cli

CLASSES = ('background', ) + SHAPES


def label_map(objects, size):
    """ADE20K-style label map: 1 for background, 2.. for the shapes (0 is unused)."""
    label = np.ones((size, size), np.uint8)
    for kind, _poly, mask in objects:
        label[mask.astype(bool)] = kind + 2
    return label


def make_shapes_seg(out='data/shapes_seg', num_train=16, num_val=8, size=64, seed=0,
                    verbose=True):
    """Write the dataset and return the pixel count of every label value over all splits."""
    import cv2
    if size < 32:
        raise ValueError(f'size must be >= 32 pixels, got {size}')
    for name, value in (('num_train', num_train), ('num_val', num_val)):
        if value < 1:
            raise ValueError(f'{name} must be >= 1, got {value}')
    rng = np.random.RandomState(seed)
    counts = np.zeros(len(CLASSES) + 1, np.int64)
    for split, num in (('training', num_train), ('validation', num_val)):
        img_dir = osp.join(out, 'images', split)
        ann_dir = osp.join(out, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(num):
            image, objects = random_scene(rng, size)
            label = label_map(objects, size)
            cv2.imwrite(osp.join(img_dir, f'{i:06d}.jpg'), image,
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(ann_dir, f'{i:06d}.png'), label)
            counts += np.bincount(label.reshape(-1), minlength=len(counts))
    if verbose:
        share = ', '.join(f'{name} {c / counts.sum():.1%}'
                          for name, c in zip(CLASSES, counts[1:]))
        print(f'[make_shapes_seg] wrote {out}: {num_train} training / {num_val} validation '
              f'images of {size}x{size}; pixels: {share}')
    return counts


def main(argv=None):
    run_cli(make_shapes_seg, __doc__.splitlines()[0], 'data/shapes_seg', 64, argv)


if __name__ == '__main__':
    main()
