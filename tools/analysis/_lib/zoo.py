"""The model zoo table, generated from the configs (``tools/analysis/model_zoo.py``).

Every ImageNet classification config under ``configs/<family>/`` is built and measured with
``mmengine.analysis.get_model_complexity_info`` (parameters, FLOPs as multiply-accumulates at the
config's test crop). Published top-1 accuracies come from :data:`PUBLISHED_TOP1`, each with its
source; nothing in the table is typed by hand except those citations.
"""
import glob
import os.path as osp
from typing import Dict, List, Optional, Tuple

from .references import REPO_ROOT

SKIP_DIRS = ('_base_', 'demo', 'mmdet', 'mmseg')

# (backbone class, depth[, architecture arguments]) -> (ImageNet-1k top-1, its source)
_X32x4 = (('groups', 32), ('width_per_group', 4))
_X32x8 = (('groups', 32), ('width_per_group', 8))
_SK_TIMM = (('min_channels', 16), ('reduction', 8), ('split_input', True))
_MMPRE = 'mmpretrain {}_8xb32_in1k'
_TIMM_CSV = 'timm {} (results-imagenet.csv)'
_RESNEST = 'mmpretrain old model_zoo (converted official weights)'
PUBLISHED_TOP1: Dict[Tuple, Tuple[float, str]] = {
    ('ResNet', 18): (69.90, _MMPRE.format('resnet18')),
    ('ResNet', 34): (73.62, _MMPRE.format('resnet34')),
    ('ResNet', 50): (76.55, _MMPRE.format('resnet50')),
    ('ResNet', 101): (77.97, _MMPRE.format('resnet101')),
    ('ResNet', 152): (78.48, _MMPRE.format('resnet152')),
    ('ResNetV1c', 50): (77.01, _MMPRE.format('resnetv1c50')),
    ('ResNetV1d', 50): (77.54, _MMPRE.format('resnetv1d50')),
    ('ResNeXt', 50, _X32x4): (77.90, _MMPRE.format('resnext50-32x4d')),
    ('ResNeXt', 101, _X32x4): (78.61, _MMPRE.format('resnext101-32x4d')),
    ('ResNeXt', 101, _X32x8): (79.27, _MMPRE.format('resnext101-32x8d')),
    ('ResNeXt', 152, _X32x4): (78.88, _MMPRE.format('resnext152-32x4d')),
    ('SEResNet', 50): (77.74, _MMPRE.format('seresnet50')),
    ('SEResNet', 101): (78.26, _MMPRE.format('seresnet101')),
    ('SEResNeXt', 50, _X32x4): (81.27, _TIMM_CSV.format('seresnext50_32x4d.racm_in1k')),
    ('ResNeSt', 50): (81.13, _RESNEST),
    ('ResNeSt', 101, (('stem_channels', 128), )): (82.32, _RESNEST),
    ('ResNeSt', 200, (('stem_channels', 128), )): (82.41, _RESNEST),
    ('ResNeSt', 269, (('stem_channels', 128), )): (82.70, _RESNEST),
    ('SKNet', 50): (80.17, _TIMM_CSV.format('skresnext50_32x4d')),
    ('SKNet', 18, _SK_TIMM): (73.02, _TIMM_CSV.format('skresnet18')),
    ('SKNet', 34, _SK_TIMM): (76.96, _TIMM_CSV.format('skresnet34')),
    ('SCNet', 50): (77.81, 'SCNet paper / MCG-NKU/SCNet README (top-1 error 22.19)'),
    ('SCNet', 101): (78.94, 'SCNet paper / MCG-NKU/SCNet README (top-1 error 21.06)'),
    ('ResNetV2', 50): (80.41, _TIMM_CSV.format('resnetv2_50.a1h_in1k')),
    ('ResidualAttentionNet', 'attention56'): (78.24, 'Residual Attention Network paper '
                                                    '(top-1 error 21.76)'),
    ('ResidualAttentionNet', 'attention92'): (80.5, 'Residual Attention Network paper '
                                                   '(top-1 error 19.5, 320 px test)'),
}


def classification_configs(root: str = REPO_ROOT) -> List[str]:
    """``configs/<family>/*.py`` except ``_base_``, demo, detection and segmentation configs."""
    paths = []
    for path in sorted(glob.glob(osp.join(root, 'configs', '*', '*.py'))):
        # ``_name.py`` files are shared fragments (e.g. RandAugment policies), not models
        if (osp.basename(osp.dirname(path)) not in SKIP_DIRS
                and not osp.basename(path).startswith('_')):
            paths.append(path)
    return paths


def backbone_type(backbone_cfg: dict) -> str:
    return str(backbone_cfg['type']).split('.')[-1]


def display_name(backbone_cfg: dict) -> str:
    name = f"{backbone_type(backbone_cfg)}-{backbone_cfg.get('depth', backbone_cfg.get('arch'))}"
    if backbone_cfg.get('groups') not in (None, 1):
        name += f" {backbone_cfg['groups']}x{backbone_cfg.get('width_per_group', '?')}d"
    return name


def test_input_size(cfg) -> int:
    """The square crop the config evaluates at (``crop_size`` of its test pipeline), or 224."""
    pipeline = (cfg.get('test_dataloader') or {}).get('dataset', {}).get('pipeline', []) or \
        cfg.get('test_pipeline', []) or []
    for t in pipeline:
        size = t.get('crop_size')
        if size:
            return size if isinstance(size, int) else int(size[0])
    return 224


# backbone arguments that change the network away from the preset of (type, depth)
VARIANT_ARGS = ('groups', 'width_per_group', 'deep_stem', 'avg_down', 'base_channels',
                'stem_channels', 'radix', 'num_stages', 'reduction', 'min_channels',
                'split_input', 'pooling_r', 'plugins', 'p', 't', 'r',
                'attention_type')

# networks defined by plug-ins rather than by backbone arguments: config model name -> top-1
PUBLISHED_BY_MODEL: Dict[str, Tuple[float, str]] = {
    'cbam-resnet50': (77.63, 'PytorchInsight CBAM-R50 (Jongchan/attention-module: 77.34)'),
    'sge-resnet50': (77.58, 'PytorchInsight SGE-R50 (SGE paper)'),
}


def model_name(path: str) -> str:
    """``configs/x/resnest50_8xb32_in1k.py`` -> ``resnest50`` (the part before ``_``)."""
    return osp.basename(path).split('_')[0]


def _default(cls, arg):
    """Default of ``arg`` in the ``__init__`` of ``cls`` or of a base class (or a sentinel)."""
    import inspect
    for klass in getattr(cls, '__mro__', ()):
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        param = inspect.signature(init).parameters.get(arg)
        if param is not None and param.default is not inspect.Parameter.empty:
            return param.default
    return _NO_DEFAULT


_NO_DEFAULT = object()


def published_key(backbone_cfg: dict) -> Tuple:
    """(type, depth, ((arg, value), ...)): the architecture arguments that differ from the
    class defaults (so ``radix=2`` written out and left out give the same key)."""
    cls = None
    try:
        import mmresfam  # noqa: F401
        from mmresfam.registry import MODELS
        cls = MODELS.get(backbone_type(backbone_cfg))
    except Exception:  # noqa: BLE001  unknown class: keep every argument
        pass
    variant = []
    for k in VARIANT_ARGS:
        if k in backbone_cfg:
            value = backbone_cfg[k]
            if cls is not None and _default(cls, k) == value:
                continue
            variant.append((k, value if not isinstance(value, list) else tuple(value)))
    depth = backbone_cfg.get('depth', backbone_cfg.get('arch'))
    if depth is None and cls is not None and _default(cls, 'arch') is not _NO_DEFAULT:
        depth = _default(cls, 'arch')
    return backbone_type(backbone_cfg), depth, tuple(sorted(variant, key=repr))


def published(backbone_cfg: dict, path: str = '') -> Optional[Tuple[float, str]]:
    """Published top-1 of exactly this network, or None (a variant nobody published).

    Plug-in networks (CBAM-, SGE-ResNet ...) are found by the config's model name.
    """
    if path and model_name(path) in PUBLISHED_BY_MODEL:
        return PUBLISHED_BY_MODEL[model_name(path)]
    key = published_key(backbone_cfg)
    for entry, value in PUBLISHED_TOP1.items():
        typ, depth, variant = (tuple(entry) + ((), ))[:3]
        if (typ, depth) == key[:2] and published_key(
                dict(type=typ, depth=depth, **dict(variant))) == key:
            return value
    return None


def build_classifier(cfg):
    import mmresfam  # noqa: F401
    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    # build in the config's scope whatever scope an earlier build left current
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        return MODELS.build(cfg.model)


def measure(model, size: int) -> Tuple[int, Optional[int]]:
    """(parameters, FLOPs) of ``model`` at a ``size`` x ``size`` RGB input (mmengine.analysis)."""
    from mmengine.analysis import get_model_complexity_info
    model.eval()
    info = get_model_complexity_info(model, input_shape=(3, size, size), show_table=False,
                                     show_arch=False)
    return int(info['params']), int(info['flops'])


def zoo_rows(configs: List[str], flops: bool = True, log=print,
             reuse: Optional[Dict[str, dict]] = None) -> List[dict]:
    """One row per config: name, config, backbone type, params, FLOPs, input, published top-1.

    ``reuse`` maps a config path (relative to the repository) to a row measured before, whose
    params/FLOPs are kept when the input size is unchanged (published numbers are looked up
    again).
    """
    from mmengine.config import Config
    rows = []
    reuse = reuse or {}
    for path in configs:
        cfg = Config.fromfile(path)
        model_cfg = cfg.get('model', {})
        if model_cfg.get('type') != 'ImageClassifier':
            log(f'skip {path}: not an ImageClassifier config')
            continue
        bb = model_cfg['backbone']
        size = test_input_size(cfg)
        old = reuse.get(osp.relpath(path, REPO_ROOT))
        if old is not None and old['input'] == size and (old['flops'] or not flops):
            params, macs = old['params'], old['flops']
        elif flops:
            params, macs = measure(build_classifier(cfg), size)
        else:  # parameters only (fast)
            params = sum(p.numel() for p in build_classifier(cfg).parameters())
            macs = None
        pub = published(bb, path)
        rows.append(dict(name=model_name(path), backbone=backbone_type(bb),
                         config=osp.relpath(path, REPO_ROOT), params=params, flops=macs,
                         input=size, top1=pub[0] if pub else None,
                         top1_source=pub[1] if pub else None))
        log(f'{rows[-1]["name"]:22s} {params / 1e6:7.2f} M  '
            f'{"-" if macs is None else f"{macs / 1e9:6.2f} G"}  {path}')
    return rows


def format_zoo(rows: List[dict]) -> str:
    lines = ['| model | config | params (M) | FLOPs (G) | input | published top-1 | source |',
             '|---|---|---|---|---|---|---|']
    for r in rows:
        flops = '-' if r['flops'] is None else f"{r['flops'] / 1e9:.2f}"
        top1 = '-' if r['top1'] is None else f"{r['top1']:.2f}"
        lines.append(f"| {r['name']} | `{r['config']}` | {r['params'] / 1e6:.2f} | {flops} | "
                     f"{r['input']} | {top1} | {r['top1_source'] or '-'} |")
    return '\n'.join(lines)


def missing_backbones(rows: List[dict], registered: List[str]) -> List[str]:
    """Registered backbone classes that no config of the table uses."""
    used = {r['backbone'] for r in rows}
    return [name for name in registered if name not in used]
