# ResNeSt-50 (Zhang et al., 2020, "ResNeSt: Split-Attention Networks") on ImageNet-1k with the
# paper's recipe as MMPreTrain writes it (configs/resnest/resnest50_32xb64_in1k.py), rescaled to
# 8 GPUs x 32 images (lr 0.1 per 256 images, the paper's linear-scaling rule; MMPreTrain's
# 0.8 for 2048): RandAugment + EfficientNet-style crops + ColorJitter + PCA lighting, label
# smoothing 0.1, mixup 0.2, 5-epoch linear warm-up then cosine to 270 epochs, no weight decay
# on norms and biases. Train and test crop 224 (the paper's evaluation size for ResNeSt-50;
# MMPreTrain evaluates this model at 256).
_base_ = ['../_base_/imagenet_classifier_recipe.py', './_randaug_policies.py']

model = dict(
    backbone=dict(
        type='mmresfam.ResNeSt',
        depth=50,
        stem_channels=64,  # deep stem 32-32-64 (official stem_width=32)
        radix=2,
        groups=1,
        reduction_factor=4,
        avd=True,
        avd_first=False,
        out_indices=(3, )),
    head=dict(
        loss=dict(_delete_=True, type='LabelSmoothLoss', label_smooth_val=0.1,
                  num_classes=1000, reduction='mean', loss_weight=1.0),
        cal_acc=False),
    train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)),
)

# PCA lighting noise of the ResNeSt/Inception recipe (eigen-decomposition in BGR order)
lighting = dict(
    type='Lighting',
    eigval=[55.4625, 4.7940, 1.1475],
    eigvec=[[-0.5836, -0.6948, 0.4203], [-0.5808, -0.0045, -0.8140],
            [-0.5675, 0.7192, 0.4009]],
    alphastd=0.1,
    to_rgb=False)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandAugment', policies={{_base_.policies}}, num_policies=2,
         magnitude_level=12),
    dict(type='EfficientNetRandomCrop', scale=224, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    lighting,
    dict(type='PackInputs'),
]
# the official evaluation: centre crop of crop/(crop+32) of the short side, resized to crop
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='EfficientNetCenterCrop', crop_size=224, crop_padding=32, backend='pillow',
         interpolation='bilinear'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(bias_decay_mult=0., norm_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=265, by_epoch=True, begin=5, end=270),
]
train_cfg = dict(by_epoch=True, max_epochs=270, val_interval=1)
# 8 GPUs x 32 images; --auto-scale-lr rescales lr linearly for another total batch
auto_scale_lr = dict(base_batch_size=256)
