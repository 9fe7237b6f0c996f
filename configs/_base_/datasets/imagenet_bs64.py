# ImageNet-1k, 64 images per GPU: imagenet_bs32 with larger batches.
_base_ = ['./imagenet_bs32.py']
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
