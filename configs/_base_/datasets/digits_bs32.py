# UCI handwritten digits (scikit-learn's copy, 1,797 real 8x8 images, 10 classes) written by
# tools/dataset_converters/prepare_digits.py as an ImageNet-style folder of 32x32 PNGs.
# mmresfam.FolderDataset: hidden folders ignored, val classes checked against train's.
dataset_type = 'mmresfam.FolderDataset'
data_root = 'data/digits'
data_preprocessor = dict(
    num_classes=10,
    # statistics of the training split (prepare_digits.py prints them)
    mean=[79.0, 79.0, 79.0],
    std=[89.1, 89.1, 89.1],
    to_rgb=False,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # digits are not mirror-symmetric: shift and scale, never flip
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.7, 1.0),
         aspect_ratio_range=(0.85, 1.15)),
    dict(type='PackInputs'),
]

# every image at the trained size (a larger image would otherwise be zero-padded in its batch)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=32, edge='short'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)

val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='val',
                 classes_from='train', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
