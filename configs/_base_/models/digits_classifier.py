# Digits-demo classifier around an mmresfam backbone: the ImageNet classifier (global average
# pooling, linear head) for 10 classes over 512 channels, top-1 only; each demo config adds its
# `backbone` dict and sets head.in_channels when its last stage is wider or narrower.
_base_ = ['./imagenet_classifier.py']
model = dict(head=dict(num_classes=10, in_channels=512, topk=(1, )))
