# The default ImageNet-1k recipe for an mmresfam classifier (mmpretrain's resnet50_8xb32_in1k
# without its backbone): linear classifier, 8 GPUs x 32 images, SGD lr 0.1 with steps at
# epochs 30/60/90 over 100 epochs, default runtime. Each config adds `model.backbone`.
_base_ = [
    './models/imagenet_classifier.py',
    './datasets/imagenet_bs32.py',
    './schedules/imagenet_bs256.py',
    './default_runtime.py',
]
