# ImageNet-1k classifier around an mmresfam backbone: global average pooling and a linear head
# over 2048 channels (the bottleneck width; configs with basic blocks set head.in_channels).
# Each config adds its own `backbone` dict (type, depth, ..., out_indices=(3, )).
model = dict(
    type='ImageClassifier',
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
