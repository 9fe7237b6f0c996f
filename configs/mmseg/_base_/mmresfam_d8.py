# What every dilated (output stride 8) mmresfam backbone of the mmseg configs of this folder
# shares: strides (1, 2, 1, 1), dilations (1, 1, 2, 4) and contract_dilation=True like mmseg's
# ResNetV1c-D8, SyncBN, norm_eval=False, and a classification checkpoint written by
# tools/train.py (keys start with 'backbone.'; `prefix` strips them). A backbone file of this
# folder inherits it and adds `type`, its arguments and `init_cfg=dict(checkpoint=...)`; a config
# puts the result in place with `model = {{_base_.d8_model}}` next to a decode-head config
# (mmengine refuses the same key in two bases, hence the d8_ names).
custom_imports = dict(imports=['mmresfam'], allow_failed_imports=False)

# The segmentor-level `pretrained` of the base configs ('open-mmlab://resnet50_v1c') is cleared:
# EncoderDecoder would otherwise pass ResNet-V1c weights to this backbone as
# `backbone.pretrained`.
d8_norm_cfg = dict(type='SyncBN', requires_grad=True)
d8_model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,  # drop the keys of mmseg's ResNetV1c
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        norm_cfg=d8_norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', prefix='backbone.')))
