# What every mmresfam backbone in an MMDetection FPN detector shares: the registration of
# mmresfam, SyncBN, the four stage outputs for the FPN (256-2048 channels), the frozen stem +
# stage 1 of mmdet's recipes, and a classification checkpoint written by tools/train.py (keys
# start with 'backbone.'; `prefix` strips them). A detector base puts it in place with
# `model = {{_base_.fpn_model}}` next to an mmdet config (mmengine refuses the same key in two
# bases, hence the fpn_ names); a config then gives the backbone's `type`, its own arguments and
# `init_cfg=dict(checkpoint=...)`.
custom_imports = dict(imports=['mmresfam'], allow_failed_imports=False)

fpn_norm_cfg = dict(type='SyncBN', requires_grad=True)
fpn_model = dict(
    backbone=dict(
        _delete_=True,  # drop the keys of mmdet's ResNet/ResNeSt (style, num_stages, ...)
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=fpn_norm_cfg,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', prefix='backbone.')),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
