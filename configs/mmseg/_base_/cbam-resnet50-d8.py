# The dilated (output stride 8) cbam-resnet50-d8 backbone shared by the mmseg configs of this
# folder: `model = {{_base_.d8_model}}` in a config that also inherits a decode head.
# (mmengine refuses the same key in two bases, hence the d8_ names.)
custom_imports = dict(imports=['mmresfam'], allow_failed_imports=False)

# A classification checkpoint of the same backbone written by tools/train.py (keys start with
# 'backbone.'; `prefix` strips them). The segmentor-level `pretrained` of the base config
# ('open-mmlab://resnet50_v1c') is cleared: EncoderDecoder would otherwise pass ResNet-V1c
# weights to this backbone as `backbone.pretrained`.
pretrained_ckpt = 'checkpoints/cbam-resnet50_8xb32_in1k.pth'
d8_norm_cfg = dict(type='SyncBN', requires_grad=True)
d8_model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,  # drop the keys of mmseg's ResNetV1c
        type='mmresfam.ResNet',
        depth=50,
        plugins=[
            dict(cfg=dict(type='mmresfam.CBAM', reduction=16, spatial_kernel=7),
                 stages=(True, True, True, True), position='after_conv3'),
        ],
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        norm_cfg=d8_norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_ckpt, prefix='backbone.')))
