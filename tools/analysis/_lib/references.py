"""Reference implementations of our networks, and moving weights between them.

:data:`REFERENCES` maps a short model name (``resnet50``, ``resnest50`` ...) to the same
network in three code bases: ours (an ``mmresfam`` backbone config), MMPreTrain (a backbone
config in its registry) and timm (a model name). :func:`build_candidate` builds one of them as a
:class:`FeatureModel` (input image -> last stage feature map), and :func:`copy_weights` gives a
reference the weights of ours, so the benchmark compares the same function computed by different
code. Whether the copy worked is never assumed: the benchmark checks the outputs agree.
"""
import copy
import importlib.util
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn

# tools/analysis/_lib/references.py -> the repository root
TOOLS_DIR = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REPO_ROOT = osp.dirname(TOOLS_DIR)
IMPLS = ('ours', 'mmpretrain', 'timm')


@dataclass
class Reference:
    """One network in up to three code bases.

    Attributes:
        ours (dict): mmresfam backbone config (``type='mmresfam.X'``).
        mmpretrain (dict, optional): MMPreTrain backbone config (``type='X'``), None if
            MMPreTrain lacks the network.
        timm (str, optional): timm model name, None if timm lacks it.
        timm_kwargs (dict): Extra arguments of ``timm.create_model``.
        converter (str, optional): File in ``tools/model_converters`` whose
            ``convert(timm_state_dict)`` returns our (classifier) state_dict. Without one the
            weights are matched in registration order, by shape.
        small (dict): Overrides of ``ours`` giving the smallest member of the family (tests).
    """
    ours: dict
    mmpretrain: Optional[dict] = None
    timm: Optional[str] = None
    timm_kwargs: dict = field(default_factory=dict)
    converter: Optional[str] = None


def _r(depth, **kw):
    return dict(depth=depth, out_indices=(3, ), **kw)


REFERENCES: Dict[str, Reference] = {
    'resnet18': Reference(dict(type='mmresfam.ResNet', **_r(18)),
                          dict(type='ResNet', **_r(18)), 'resnet18'),
    'resnet50': Reference(dict(type='mmresfam.ResNet', **_r(50)),
                          dict(type='ResNet', **_r(50)), 'resnet50'),
    'resnet101': Reference(dict(type='mmresfam.ResNet', **_r(101)),
                           dict(type='ResNet', **_r(101)), 'resnet101'),
    'resnetv1c50': Reference(dict(type='mmresfam.ResNetV1c', **_r(50)),
                             dict(type='ResNetV1c', **_r(50)), 'resnet50c'),
    'resnetv1d50': Reference(dict(type='mmresfam.ResNetV1d', **_r(50)),
                             dict(type='ResNetV1d', **_r(50)), 'resnet50d'),
    'resnext50': Reference(dict(type='mmresfam.ResNeXt', **_r(50), groups=32, width_per_group=4),
                           dict(type='ResNeXt', **_r(50), groups=32, width_per_group=4),
                           'resnext50_32x4d'),
    'seresnet50': Reference(dict(type='mmresfam.SEResNet', **_r(50)),
                            dict(type='SEResNet', **_r(50)), 'seresnet50'),
    'seresnext50': Reference(dict(type='mmresfam.SEResNeXt', **_r(50), groups=32,
                                  width_per_group=4),
                             dict(type='SEResNeXt', **_r(50), groups=32, width_per_group=4),
                             'seresnext50_32x4d'),
    'resnest50': Reference(dict(type='mmresfam.ResNeSt', **_r(50)),
                           dict(type='ResNeSt', **_r(50)), 'resnest50d',
                           converter='timm_resnest_to_mmresfam.py'),
    'resnest101': Reference(dict(type='mmresfam.ResNeSt', **_r(101), stem_channels=128),
                            dict(type='ResNeSt', **_r(101), stem_channels=128), 'resnest101e',
                            converter='timm_resnest_to_mmresfam.py'),
    'sknet50': Reference(dict(type='mmresfam.SKNet', **_r(50)), None, 'skresnext50_32x4d',
                         converter='timm_sknet_to_mmresfam.py'),
    'skresnet18': Reference(dict(type='mmresfam.SKNet', **_r(18), reduction=8, min_channels=16,
                                 split_input=True), None, 'skresnet18',
                            converter='timm_sknet_to_mmresfam.py'),
    'resnetv2_50': Reference(dict(type='mmresfam.ResNetV2', **_r(50)), None, 'resnetv2_50',
                             converter='timm_resnetv2_to_mmresfam.py'),
    'scnet50': Reference(dict(type='mmresfam.SCNet', **_r(50))),
    'attention56': Reference(dict(type='mmresfam.ResidualAttentionNet', arch='attention56',
                                  out_indices=(3, ))),
}


class FeatureModel(nn.Module):
    """Wrap a backbone so that ``forward(img)`` returns its last feature map (one tensor).

    OpenMMLab backbones return a tuple of stage outputs; timm models expose
    ``forward_features``. Both end up as ``(B, C, H/32, W/32)`` here.
    """

    def __init__(self, model: nn.Module, kind: str):
        super().__init__()
        self.model = model
        self.kind = kind

    def forward(self, x):
        if self.kind == 'timm':
            return self.model.forward_features(x)
        out = self.model(x)
        return out[-1] if isinstance(out, (tuple, list)) else out


def registered_backbones():
    """Names of every backbone class in the ``mmresfam`` registry (imports them first)."""
    import mmresfam  # noqa: F401
    from mmresfam.models import backbones
    from mmresfam.registry import MODELS
    names = []
    for name, cls in MODELS.module_dict.items():
        if isinstance(cls, type) and cls.__module__.startswith(backbones.__name__):
            names.append(name)
    return sorted(names)


def available(name: str, impl: str) -> bool:
    """Whether ``impl`` of model ``name`` can be built here (class registered / lib has it)."""
    ref = REFERENCES[name]
    if impl in ('ours', 'ours_cp'):
        return ref.ours['type'].split('.', 1)[1] in registered_backbones()
    if impl == 'mmpretrain':
        return ref.mmpretrain is not None
    if impl == 'timm':
        if ref.timm is None:
            return False
        import timm
        return ref.timm in timm.list_models()
    raise KeyError(f'impl must be one of {IMPLS + ("ours_cp", )}, got {impl!r}')


def build_backbone(name: str, impl: str, **overrides) -> nn.Module:
    """Build the raw backbone of ``impl`` (``ours``/``ours_cp``/``mmpretrain``/``timm``)."""
    if name not in REFERENCES:
        raise KeyError(f'model must be one of {sorted(REFERENCES)}, got {name!r}')
    ref = REFERENCES[name]
    if impl in ('ours', 'ours_cp'):
        import mmresfam  # noqa: F401
        from mmresfam.registry import MODELS
        cfg = dict(copy.deepcopy(ref.ours), **overrides)
        if impl == 'ours_cp':
            cfg['with_cp'] = True
        return MODELS.build(cfg)
    if impl == 'mmpretrain':
        if ref.mmpretrain is None:
            raise KeyError(f'{name}: MMPreTrain has no implementation of this network')
        from mmpretrain.registry import MODELS as MMPRE_MODELS
        from mmpretrain.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        return MMPRE_MODELS.build(dict(copy.deepcopy(ref.mmpretrain), **overrides))
    if impl == 'timm':
        if ref.timm is None:
            raise KeyError(f'{name}: timm has no implementation of this network')
        import timm
        return timm.create_model(ref.timm, pretrained=False, num_classes=0,
                                 **dict(ref.timm_kwargs, **overrides))
    raise KeyError(f'impl must be one of {IMPLS + ("ours_cp", )}, got {impl!r}')


def build_candidate(name: str, impl: str, **overrides) -> FeatureModel:
    """:func:`build_backbone` wrapped in :class:`FeatureModel`."""
    return FeatureModel(build_backbone(name, impl, **overrides),
                        'timm' if impl == 'timm' else 'openmmlab')


@torch.no_grad()
def randomize_norms_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm random affine parameters and running statistics.

    Freshly built ResNets zero the last norm of every residual branch
    (``zero_init_residual``), which would make an agreement check blind to the residual
    branches; random norms make every branch count.
    """
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            if m.weight is not None:
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
            if m.running_mean is not None:
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
    return model


def _load_converter(filename: str) -> Optional[Callable]:
    path = osp.join(REPO_ROOT, 'tools', 'model_converters', filename)
    if not osp.isfile(path):
        return None
    spec = importlib.util.spec_from_file_location(f'_mmresfam_conv_{filename[:-3]}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, 'convert', None)


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.modules.conv._ConvNd):
        return 'conv'
    if isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)):
        return 'norm'
    if isinstance(module, nn.Linear):
        return 'linear'
    return type(module).__name__


def _described_tensors(model: nn.Module):
    """``[(key, tensor, (owner kind, attribute, shape))]`` in registration order."""
    owners = dict(model.named_modules())
    out = []
    for key, value in model.state_dict().items():
        if key.endswith('num_batches_tracked'):
            continue
        owner, _, attr = key.rpartition('.')
        out.append((key, value, (_kind(owners.get(owner, model)), attr, tuple(value.shape))))
    return out


def copy_by_order(src: nn.Module, dst: nn.Module) -> int:
    """Copy ``src``'s parameters and buffers into ``dst``, pairing them in registration order.

    ResNet-style code bases register layers in (nearly) forward order even where the names
    differ. Each destination tensor takes the first unused source tensor of the same kind
    (owner conv / norm / linear, attribute name, shape), which also absorbs small order
    differences (timm registers ``se`` before ``downsample``, MMPreTrain after it). Raises
    ``ValueError`` if a tensor finds no partner or some are left over. Returns the count copied.
    The caller must still compare outputs: equal shapes do not prove equal roles.
    """
    s_items, d_items = _described_tensors(src), _described_tensors(dst)
    if len(s_items) != len(d_items):
        raise ValueError(f'cannot pair weights by order: {len(s_items)} tensors in the source, '
                         f'{len(d_items)} in the destination')
    used = [False] * len(s_items)
    new, start = {}, 0
    for dk, _, dsig in d_items:
        for i in range(start, len(s_items)):
            if not used[i] and s_items[i][2] == dsig:
                used[i] = True
                new[dk] = s_items[i][1].detach().clone()
                break
        else:
            raise ValueError(f'cannot pair weights by order: no source tensor left for {dk} '
                             f'{dsig}')
        while start < len(used) and used[start]:
            start += 1
    dst.load_state_dict(new, strict=False)
    return len(new)


@torch.no_grad()
def copy_weights(name: str, ours: nn.Module, ref: nn.Module, impl: str) -> str:
    """Give the reference ``ref`` (``impl``) the weights of our backbone ``ours``.

    ``ours``/``ref`` are raw backbones or :class:`FeatureModel`. Returns how it was done:
    ``'same keys'`` (MMPreTrain shares our checkpoint layout), ``'converter <file>'`` (a timm
    converter exists: we make timm's weights ours through it and copy back by key), or
    ``'by order'``.
    """
    ours = ours.model if isinstance(ours, FeatureModel) else ours
    ref = ref.model if isinstance(ref, FeatureModel) else ref
    o_sd = ours.state_dict()
    r_sd = ref.state_dict()
    if set(o_sd) == set(r_sd) and all(o_sd[k].shape == r_sd[k].shape for k in o_sd):
        ref.load_state_dict(o_sd)
        return 'same keys'
    conv_file = REFERENCES[name].converter if impl == 'timm' else None
    convert = _load_converter(conv_file) if conv_file else None
    if convert is not None:
        # map every timm key to ours via the converter, then fill timm's tensors from ours
        tagged = {k: torch.full((1, ), float(i)) for i, k in enumerate(r_sd)}
        try:
            mapped = convert(dict(tagged))
        except Exception:  # noqa: BLE001  converter rejects: fall back to order
            mapped = None
        if mapped is not None:
            keys = list(r_sd)
            new = {}
            for k, v in mapped.items():
                ok = k[len('backbone.'):] if k.startswith('backbone.') else k
                if ok in o_sd and v.numel() == 1:
                    new[keys[int(v.item())]] = o_sd[ok].clone()
            missing = [k for k in r_sd if k not in new and not k.endswith('num_batches_tracked')]
            if not missing:
                ref.load_state_dict(new, strict=False)
                return f'converter {conv_file}'
    copy_by_order(ours, ref)
    return 'by order'
