"""mmresfam.models.utils.model_checks: neck/head channels and Pretrained-checkpoint keys."""
import pytest
import torch
from torch import nn

from mmresfam.models.utils import (backbone_feature_channels, check_neck_channels,
                                   check_pretrained_keys)


class _Backbone(nn.Module):
    out_channels = [8, 16, 32, 64]
    out_indices = (1, 3)


class _Neck(nn.Module):

    def __init__(self, in_channels):
        super().__init__()
        self.in_channels = in_channels


class _Detector(nn.Module):

    def __init__(self, in_channels):
        super().__init__()
        self.backbone = _Backbone()
        self.neck = _Neck(in_channels)


def test_backbone_feature_channels():
    assert backbone_feature_channels(_Backbone()) == [16, 64]
    assert backbone_feature_channels(nn.Conv2d(1, 1, 1)) is None  # not an mmresfam backbone


def test_check_neck_channels():
    check_neck_channels(_Detector([16, 64]))
    with pytest.raises(ValueError, match=r'in_channels=\[8, 16\] do not match.*'
                       r'set model.neck.in_channels=\[16, 64\]'):
        check_neck_channels(_Detector([8, 16]))


def test_check_pretrained_keys(tmp_path):
    module = nn.Linear(2, 2)
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'backbone.weight': torch.zeros(2, 2)}}, str(good))
    check_pretrained_keys(module, dict(type='Pretrained', checkpoint=str(good),
                                       prefix='backbone.'))
    with pytest.raises(ValueError, match="set prefix='backbone.'"):
        check_pretrained_keys(module, dict(type='Pretrained', checkpoint=str(good)))
    with pytest.raises(ValueError, match="no key starting with prefix='head.'"):
        check_pretrained_keys(module, dict(type='Pretrained', checkpoint=str(good),
                                           prefix='head.'))
    check_pretrained_keys(module, dict(type='Kaiming'))  # not a checkpoint: nothing to check
