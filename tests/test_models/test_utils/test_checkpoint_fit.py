"""Checkpoints that do not fit: compared by key names and shapes."""
import pytest
import torch

from mmresfam.models.backbones import ResNet
from mmresfam.models.utils.model_checks import (check_checkpoint_fits, non_finite_tensors,
                                                 state_dict_fit)


def _save(obj, path):
    torch.save(obj, path)
    return str(path)


def test_state_dict_fit_counts():
    model = ResNet(depth=18)
    state = dict(model.state_dict())
    state['extra.weight'] = torch.zeros(1)
    del state['layer1.0.conv1.weight']
    state['layer1.0.conv2.weight'] = torch.zeros(1, 1)
    missing, unexpected, mis_shaped = state_dict_fit(model, state)
    assert missing == ['layer1.0.conv1.weight'] and unexpected == ['extra.weight']
    assert len(mis_shaped) == 1 and mis_shaped[0].startswith('layer1.0.conv2.weight')
    with pytest.raises(ValueError, match='1 missing, 1 unexpected, 1 mis-shaped'):
        check_checkpoint_fits(model, state, 'x.pth')
    check_checkpoint_fits(model, model.state_dict(), 'x.pth')


def test_non_finite_tensors():
    state = {'a': torch.ones(2), 'b': torch.tensor([1.0, float('inf')]), 'n': torch.ones(1).long()}
    assert non_finite_tensors(state) == ['b']


def test_pretrained_of_another_architecture_is_refused_by_shape(tmp_path):
    """Same key names, other shapes (a wider network): nothing would load."""
    wide = ResNet(depth=18, base_channels=32, stem_channels=32)
    ckpt = _save(wide.state_dict(), tmp_path / 'wide.pth')
    model = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    with pytest.raises(ValueError, match=r'does not fit: .*0 of \d+ tensors would load.*'
                       r'mis-shaped.*timm_resnet_to_mmresfam\.py'):
        model.init_weights()


def test_pretrained_with_renamed_keys_is_refused(tmp_path):
    """An unconverted checkpoint whose stem has other names: both missing and unexpected."""
    state = {k.replace('stem.', 'conv1.') if k.startswith('stem.') else k: v
             for k, v in ResNet(depth=18, deep_stem=True).state_dict().items()}
    ckpt = _save(state, tmp_path / 'renamed.pth')
    model = ResNet(depth=18, deep_stem=True,
                   init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    with pytest.raises(ValueError, match=r'missing, \d+ unexpected'):
        model.init_weights()


def test_pretrained_lacking_only_new_layers_is_accepted(tmp_path):
    """A pretrained ResNet for a network with extra plug-in layers: only missing keys."""
    ckpt = _save(ResNet(depth=18).state_dict(), tmp_path / 'r18.pth')
    model = ResNet(depth=18, plugins=[dict(cfg=dict(type='mmresfam.CBAM'),
                                           stages=(False, False, False, True),
                                           position='after_conv2')],
                   init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    model.init_weights()
    assert torch.equal(model.layer1[0].conv1.weight,
                       torch.load(ckpt)['layer1.0.conv1.weight'])
