"""Generate a small detection / instance-segmentation dataset in the COCO format.

Each image shows 1-3 non-overlapping filled shapes (circle, square, triangle) in random
colours on a noisy background. Every object is a polygon, so its COCO annotation holds the
exact ``segmentation`` polygon, the ``bbox`` (x, y, w, h) of the polygon and the ``area`` of
its rasterised mask. The layout is COCO 2017's, so mmdet's ``CocoDataset`` and ``CocoMetric``
(pycocotools) read it with only ``data_root`` changed::

    <out>/train2017/000000.png ...
    <out>/val2017/000000.png ...
    <out>/annotations/instances_train2017.json
    <out>/annotations/instances_val2017.json

Everything is drawn from one seed, so two runs write identical files.

    python tools/dataset_converters/make_shapes_coco.py [--out data/shapes_coco]
        [--num-train 16] [--num-val 8] [--size 128] [--seed 0]
"""
import argparse
import json
import os
import os.path as osp

import numpy as np

CLASSES = ('circle', 'square', 'triangle')
CIRCLE_VERTICES = 32


def shape_polygon(kind, cx, cy, radius, angle):
    """Vertices (N, 2) of a ``kind`` shape centred at (cx, cy) with circumradius ``radius``."""
    sides = {'circle': CIRCLE_VERTICES, 'square': 4, 'triangle': 3}[kind]
    theta = angle + 2 * np.pi * np.arange(sides) / sides
    return np.stack([cx + radius * np.cos(theta), cy + radius * np.sin(theta)], axis=1)


def polygon_mask(poly, size):
    """The (size, size) uint8 mask of a polygon, rasterised by pycocotools exactly as mmdet and
    ``CocoMetric`` rasterise the annotation (so drawn pixels, masks and areas agree)."""
    from pycocotools import mask as mask_utils
    rles = mask_utils.frPyObjects([np.asarray(poly, np.float64).reshape(-1).tolist()], size,
                                  size)
    return mask_utils.decode(mask_utils.merge(rles)).astype(np.uint8)


def random_scene(rng, size, max_objects=3, min_radius=None, max_radius=None):
    """Draw one image.

    Returns:
        tuple: ``(image, objects)`` with ``image`` a (size, size, 3) uint8 BGR array and
        ``objects`` a list of ``(class_index, polygon, mask)``; the masks do not overlap.
    """
    import cv2
    min_radius = min_radius or max(6, size // 10)
    max_radius = max_radius or max(min_radius + 1, size // 4)
    base = rng.randint(0, 90, size=3)
    image = np.clip(base + rng.randint(-20, 21, size=(size, size, 3)), 0, 255).astype(np.uint8)
    occupied = np.zeros((size, size), np.uint8)
    objects = []
    for _ in range(rng.randint(1, max_objects + 1)):
        for _attempt in range(20):
            kind = rng.randint(len(CLASSES))
            radius = rng.uniform(min_radius, max_radius)
            cx, cy = rng.uniform(radius, size - radius, size=2)
            poly = shape_polygon(CLASSES[kind], cx, cy, radius, rng.uniform(0, 2 * np.pi))
            poly = np.round(np.clip(poly, 0, size - 1), 2)  # exactly what the json stores
            mask = polygon_mask(poly, size)
            grown = cv2.dilate(mask, np.ones((5, 5), np.uint8))
            if mask.sum() > 0 and not (grown & occupied).any():
                break
        else:
            continue
        occupied |= mask
        colour = rng.randint(120, 256, size=3)
        image[mask.astype(bool)] = colour
        objects.append((kind, poly, mask))
    return image, objects


def coco_annotation(ann_id, image_id, kind, poly, mask, size):
    """The COCO dict of one object (category ids start at 1)."""
    x0, y0 = poly.min(axis=0)
    x1, y1 = poly.max(axis=0)
    return dict(id=ann_id, image_id=image_id, category_id=kind + 1, iscrowd=0,
                bbox=[round(float(x0), 2), round(float(y0), 2),
                      round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
                area=float(mask.sum()),
                segmentation=[[float(v) for v in poly.reshape(-1)]])


def make_split(out, split, num_images, size, rng):
    """Write ``<out>/<split>2017/*.png`` and return the split's COCO dict."""
    import cv2
    folder = osp.join(out, f'{split}2017')
    os.makedirs(folder, exist_ok=True)
    images, annotations = [], []
    for image_id in range(num_images):
        image, objects = random_scene(rng, size)
        name = f'{image_id:06d}.png'
        cv2.imwrite(osp.join(folder, name), image)
        images.append(dict(id=image_id, file_name=name, width=size, height=size))
        for kind, poly, mask in objects:
            annotations.append(coco_annotation(len(annotations) + 1, image_id, kind, poly,
                                               mask, size))
    categories = [dict(id=i + 1, name=name, supercategory='shape')
                  for i, name in enumerate(CLASSES)]
    return dict(info=dict(description=f'mmresfam shapes ({split})'), images=images,
                annotations=annotations, categories=categories)


def make_shapes_coco(out='data/shapes_coco', num_train=16, num_val=8, size=128, seed=0,
                     verbose=True):
    """Write the dataset and return ``{split: number of annotations}``."""
    if size < 32:
        raise ValueError(f'size must be >= 32 pixels, got {size}')
    for name, value in (('num_train', num_train), ('num_val', num_val)):
        if value < 1:
            raise ValueError(f'{name} must be >= 1, got {value}')
    rng = np.random.RandomState(seed)
    os.makedirs(osp.join(out, 'annotations'), exist_ok=True)
    counts = {}
    for split, num in (('train', num_train), ('val', num_val)):
        coco = make_split(out, split, num, size, rng)
        with open(osp.join(out, 'annotations', f'instances_{split}2017.json'), 'w') as f:
            json.dump(coco, f)
        counts[split] = len(coco['annotations'])
    if verbose:
        print(f'[make_shapes_coco] wrote {out}: {num_train} train / {num_val} val images of '
              f"{size}x{size}, {counts['train']} / {counts['val']} objects, classes {CLASSES}")
    return counts


def run_cli(make_fn, description, default_out, default_size, argv=None):
    """The command line shared by the shapes generators (COCO boxes/masks, seg labels)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--out', default=default_out, help='output folder')
    parser.add_argument('--num-train', type=int, default=16, help='training images')
    parser.add_argument('--num-val', type=int, default=8, help='validation images')
    parser.add_argument('--size', type=int, default=default_size, help='image side in pixels')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    args = parser.parse_args(argv)
    try:
        make_fn(args.out, args.num_train, args.num_val, args.size, args.seed)
    except ValueError as e:
        parser.error(str(e))


def main(argv=None):
    run_cli(make_shapes_coco, __doc__.splitlines()[0], 'data/shapes_coco', 128, argv)


if __name__ == '__main__':
    main()
