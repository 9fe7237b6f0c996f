"""The OpenMMLab model index of mmresfam: ``configs/<family>/metafile.yml`` and the root
``model-index.yml``, written by ``tools/analysis/model_zoo.py --metafiles`` from the rows that
also make the README's model table (same parameters, FLOPs and published top-1).

Schema: MMPreTrain's (``Collections``: Name, Metadata, Paper, README, Code; ``Models``: Name,
Metadata {FLOPs, Parameters, Training Data, Architecture}, In Collection, Results, Weights,
Converted From, Config). Names follow :mod:`mmresfam.hub.model_index` (``mmresfam_`` + the
config file name). ``Results`` carries ``Top 1 Accuracy`` only where a published number exists
(its source in a comment above it); otherwise only the task, with ``Metrics: null`` as
MMPreTrain writes it, so that ``mmpretrain.inference_model`` picks the image classifier.

Weights, each checked to load strictly into the config's model before it is written:

* the OpenMMLab checkpoint URL that MMPreTrain's own metafile (installed with mmpretrain,
  ``mmpretrain/.mim/configs/*/metafile.yml``) lists for the config of the same name, when
  MMPreTrain's model has exactly our state_dict keys and shapes;
* otherwise ``timm://NAME.TAG`` from :data:`TIMM_WEIGHTS` (timm's published weights, converted
  on load), when timm publishes the architecture and its converted keys and shapes are ours.
"""
import functools
import glob
import os.path as osp
from typing import Dict, List, Optional, Tuple

import yaml

TRAINING_DATA = 'ImageNet-1k'
# config file name (without _8xb32_in1k.py) -> timm model.tag with the same architecture
TIMM_WEIGHTS: Dict[str, str] = {
    'resnest50': 'resnest50d.in1k',
    'resnest101': 'resnest101e.in1k',
    'resnest200': 'resnest200e.in1k',
    'resnest269': 'resnest269e.in1k',
    'skresnet18': 'skresnet18.ra_in1k',
    'skresnet34': 'skresnet34.ra_in1k',
    'sknet50': 'skresnext50_32x4d.ra_in1k',
    'resnetv2-18': 'resnetv2_18.ra4_e3600_r224_in1k',
    'resnetv2-34': 'resnetv2_34.ra4_e3600_r224_in1k',
    'resnetv2-50': 'resnetv2_50.a1h_in1k',
    'resnetv2-101': 'resnetv2_101.a1h_in1k',
    'seresnext50-32x4d': 'seresnext50_32x4d.racm_in1k',
}
TIMM_CODE = 'https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/{}.py'

# configs/<family> -> (collection name, paper title, paper URL, backbone source file)
COLLECTIONS: Dict[str, Tuple[str, str, str, str]] = {
    'resnet': ('ResNet', 'Deep Residual Learning for Image Recognition',
               'https://arxiv.org/abs/1512.03385', 'resnet.py'),
    'resnext': ('ResNeXt', 'Aggregated Residual Transformations for Deep Neural Networks',
                'https://arxiv.org/abs/1611.05431', 'resnext.py'),
    'seresnet': ('SEResNet', 'Squeeze-and-Excitation Networks',
                 'https://arxiv.org/abs/1709.01507', 'seresnet.py'),
    'seresnext': ('SEResNeXt', 'Squeeze-and-Excitation Networks',
                  'https://arxiv.org/abs/1709.01507', 'seresnext.py'),
    'resnest': ('ResNeSt', 'ResNeSt: Split-Attention Networks',
                'https://arxiv.org/abs/2004.08955', 'resnest.py'),
    'sknet': ('SKNet', 'Selective Kernel Networks', 'https://arxiv.org/abs/1903.06586',
              'sknet.py'),
    'resnetv2': ('ResNetV2', 'Identity Mappings in Deep Residual Networks',
                 'https://arxiv.org/abs/1603.05027', 'resnetv2.py'),
    'scnet': ('SCNet', 'Improving Convolutional Networks with Self-Calibrated Convolutions',
              'http://mftp.mmcheng.net/Papers/20cvprSCNet.pdf', 'scnet.py'),
    'residual_attention': ('ResidualAttentionNet',
                           'Residual Attention Network for Image Classification',
                           'https://arxiv.org/abs/1704.06904', 'residual_attention.py'),
}


def family(config: str) -> str:
    """``configs/<family>/x.py`` -> ``<family>``."""
    return osp.basename(osp.dirname(config))


def config_stem(config: str) -> str:
    """``configs/resnest/resnest50_8xb32_in1k.py`` -> ``resnest50`` (the part before ``_``)."""
    return osp.basename(config).split('_')[0]


def architecture(model_cfg: dict) -> List[str]:
    """The backbone class and the plug-in module types of a classifier config."""
    backbone = model_cfg['backbone']
    names = [str(backbone['type']).split('.')[-1]]
    for plugin in backbone.get('plugins') or []:
        kind = str(plugin.get('cfg', plugin).get('type', '')).split('.')[-1]
        if kind and kind not in names:
            names.append(kind)
    return names


@functools.lru_cache()
def mmpretrain_weights() -> Dict[str, Tuple[str, str]]:
    """MMPreTrain's metafiles (installed with mmpretrain): model name -> (weights URL, config
    path), for every model with weights."""
    from mmengine.utils import get_installed_path
    root = osp.join(get_installed_path('mmpretrain'), '.mim')
    out = {}
    for path in sorted(glob.glob(osp.join(root, 'configs', '*', 'metafile.yml'))):
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        for model in data.get('Models') or []:
            if model.get('Weights') and model.get('Config'):
                out[model['Name']] = (model['Weights'], osp.join(root, model['Config']))
    return out


def key_shapes(model) -> Dict[str, tuple]:
    """``{key: shape}`` of a model's state_dict."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def build(config):
    """The classifier of a config file (MMPreTrain scope), on the ``meta`` device (shapes
    only, nothing allocated) where the model allows it, else on the CPU."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import mmresfam  # noqa: F401
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        try:
            with torch.device('meta'):
                return MODELS.build(cfg.model)
        except RuntimeError:  # e.g. drop-path rates read with .item()
            return MODELS.build(cfg.model)


def timm_key_shapes(timm_name: str) -> Dict[str, tuple]:
    """``{key: shape}`` of timm's model converted with :mod:`mmresfam.convert` (built on the
    ``meta`` device)."""
    import timm
    import torch

    from mmresfam.convert import convert_timm
    with torch.device('meta'):
        model = timm.create_model(timm_name.split('.')[0], pretrained=False)
    return {k: tuple(v.shape) for k, v in convert_timm(model.state_dict(), timm_name).items()}


def mismatch(ours: Dict[str, tuple], theirs: Dict[str, tuple]) -> Optional[str]:
    """None when both state_dicts have the same keys and shapes, else what differs."""
    if ours == theirs:
        return None
    missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    shapes = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k])
    return (f'{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected '
            f'(e.g. {extra[:3]}), {len(shapes)} mis-shaped (e.g. {shapes[:3]})')


def resolve_weights(config: str, log=print) -> Optional[dict]:
    """``dict(Weights=..., [Converted From=...])`` for a config, or None (see the module
    docstring); a candidate whose keys or shapes differ from ours is logged and skipped."""
    stem = osp.splitext(osp.basename(config))[0]
    ours = None
    mmpre = mmpretrain_weights().get(stem)
    if mmpre is not None:
        ours = key_shapes(build(config))
        why = mismatch(ours, key_shapes(build(mmpre[1])))
        if why is None:
            return {'Weights': mmpre[0]}
        log(f'{stem}: MMPreTrain weights {mmpre[0]} do not fit: {why}')
    timm_name = TIMM_WEIGHTS.get(config_stem(config))
    if timm_name is not None:
        from timm.models import get_pretrained_cfg

        from mmresfam.convert import family_of
        cfg = get_pretrained_cfg(timm_name)
        if cfg is None or not cfg.hf_hub_id:
            log(f'{stem}: timm publishes no weights for {timm_name}')
            return None
        ours = ours or key_shapes(build(config))
        why = mismatch(ours, timm_key_shapes(timm_name))
        if why is None:  # timm's model files are named like our conversion families
            return {'Weights': f'timm://{timm_name}',
                    'Converted From': {'Weights': f'https://huggingface.co/{cfg.hf_hub_id}',
                                       'Code': TIMM_CODE.format(family_of(timm_name))}}
        log(f'{stem}: timm {timm_name} does not fit: {why}')
    return None


def _scalar(value) -> str:
    """A YAML scalar (quoted when YAML needs it)."""
    return yaml.safe_dump([value], default_flow_style=True, width=1 << 16).strip()[1:-1]


def _block(data, indent: int) -> List[str]:
    """``data`` (dict/list/scalar) as block-style YAML lines, ``indent`` spaces deep."""
    pad, lines = ' ' * indent, []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value:
                lines.append(f'{pad}{key}:')
                lines += _block(value, indent + 2)
            else:
                lines.append(f'{pad}{key}: {_scalar(value)}')
    else:
        for item in data:
            sub = _block(item, indent + 2) if isinstance(item, (dict, list)) else \
                [f'{pad}  {_scalar(item)}']
            lines.append(f'{pad}- {sub[0].lstrip()}')
            lines += sub[1:]
    return lines


def metafile_text(family_name: str, rows: List[dict], weights: Dict[str, Optional[dict]],
                  archs: Dict[str, List[str]]) -> str:
    """The ``metafile.yml`` of one family.

    Args:
        family_name (str): The folder under ``configs/``.
        rows (list[dict]): Model-zoo rows of this family (``config``, ``params``, ``flops``,
            ``top1``, ``top1_source``).
        weights (dict): Config path -> :func:`resolve_weights` result.
        archs (dict): Config path -> :func:`architecture` result.
    """
    from mmresfam.hub.model_index import model_name
    from mmresfam.version import __version__
    name, title, url, source = COLLECTIONS[family_name]
    collection = {
        'Name': name,
        'Metadata': {'Training Data': TRAINING_DATA,
                     'Architecture': sorted({a for r in rows for a in archs[r['config']]})},
        'Paper': {'URL': url, 'Title': title},
        'README': f'configs/{family_name}/README.md',
        'Code': {'URL': f'mmresfam/models/backbones/{source}', 'Version': f'v{__version__}'},
    }
    lines = ['# Generated by tools/analysis/model_zoo.py --metafiles from the model-zoo '
             'measurements', '# (mmengine.analysis: 1 multiply-accumulate = 1 FLOP).',
             'Collections:'] + _block([collection], 2) + ['', 'Models:']
    for row in rows:
        lines.append(f'  - Name: {model_name(row["config"])}')
        lines += _block({'Metadata': {'FLOPs': row['flops'], 'Parameters': row['params'],
                                      'Training Data': TRAINING_DATA,
                                      'Architecture': archs[row['config']]},
                         'In Collection': name}, 4)
        result = {'Task': 'Image Classification', 'Dataset': TRAINING_DATA}
        if row['top1'] is None:
            lines.append('    # no published top-1 for this architecture: the task only')
            result['Metrics'] = None
        else:
            lines.append(f'    # top-1 source: {row["top1_source"]}')
            result['Metrics'] = {'Top 1 Accuracy': row['top1']}
        lines += _block({'Results': [result]}, 4)
        lines += _block({**(weights.get(row['config']) or {}), 'Config': row['config']}, 4)
    return '\n'.join(lines) + '\n'


def model_index_text(families: List[str]) -> str:
    """The root ``model-index.yml`` importing each family's metafile."""
    return 'Import:\n' + ''.join(f'  - configs/{f}/metafile.yml\n' for f in families)


def readme_flops(readme: str) -> Dict[str, int]:
    """FLOPs per config from the README's model table (``model_zoo.py --readme`` wrote it):
    config path -> FLOPs, as the table rounds them (0.01 G)."""
    import re
    with open(readme) as f:
        text = f.read()
    return {m.group(1): int(round(float(m.group(2)) * 100)) * 10**7
            for m in re.finditer(r'\| `([^`]+)` \| [\d.]+ \| ([\d.]+) \|', text)}


def write_metafiles(rows: List[dict], root: str, weights: Dict[str, Optional[dict]] = None,
                    log=print) -> List[str]:
    """Write every family's ``metafile.yml`` and ``model-index.yml`` under ``root``.

    Args:
        rows (list[dict]): The model-zoo rows. Rows measured without FLOPs (``--no-flops``)
            take the FLOPs of the README table, the measurement that wrote it.
        root (str): The repository root.
        weights (dict, optional): Config path -> weights (default: :func:`resolve_weights`).

    Returns:
        list[str]: The files written.
    """
    from mmengine.config import Config
    if any(r['flops'] is None for r in rows):
        table = readme_flops(osp.join(root, 'README.md'))
        missing = [r['config'] for r in rows if r['flops'] is None and r['config'] not in table]
        if missing:
            raise ValueError(f'no FLOPs for {missing}: run model_zoo.py without --no-flops')
        rows = [dict(r, flops=r['flops'] if r['flops'] is not None else table[r['config']])
                for r in rows]
    if weights is None:
        weights = {r['config']: resolve_weights(osp.join(root, r['config']), log) for r in rows}
    archs = {r['config']: architecture(Config.fromfile(osp.join(root, r['config'])).model)
             for r in rows}
    written, families = [], sorted({family(r['config']) for r in rows})
    for fam in families:
        path = osp.join(root, 'configs', fam, 'metafile.yml')
        with open(path, 'w') as f:
            f.write(metafile_text(fam, [r for r in rows if family(r['config']) == fam],
                                  weights, archs))
        written.append(path)
    with open(osp.join(root, 'model-index.yml'), 'w') as f:
        f.write(model_index_text(families))
    return written + [osp.join(root, 'model-index.yml')]
