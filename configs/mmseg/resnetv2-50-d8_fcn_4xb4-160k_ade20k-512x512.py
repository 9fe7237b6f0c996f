# FCN on ADE20K (512x512, 160k iterations, 4 GPUs x 4 images) with mmresfam's ResNetV2-50,
# dilated to output stride 8: strides (1, 2, 1, 1), dilations (1, 1, 2, 4) and
# contract_dilation=True, exactly like mmseg's ResNetV1c-D8 backbones.
_base_ = ['mmseg::fcn/fcn_r50-d8_4xb4-160k_ade20k-512x512.py', './_base_/resnetv2-50-d8.py']
model = {{_base_.d8_model}}
