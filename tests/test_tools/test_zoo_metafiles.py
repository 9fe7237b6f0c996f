"""configs/<family>/metafile.yml and model-index.yml (tools/analysis/model_zoo.py --metafiles):
one entry per ImageNet config and one config per entry, numbers equal to a fresh measurement and
to the README table, weights that fit the model."""
import glob
import os.path as osp
import re

import pytest
import yaml

from analysis._lib.zoo import classification_configs, published
from mmresfam.hub.model_index import model_name
from test_tools._helpers import ROOT

from analysis._lib import zoo_metafiles as meta


def _metafiles():
    return sorted(glob.glob(osp.join(ROOT, 'configs', '*', 'metafile.yml')))


@pytest.fixture(scope='module')
def entries():
    """Config path (relative) -> the metafile's model entry."""
    out = {}
    for path in _metafiles():
        with open(path) as f:
            for model in yaml.safe_load(f)['Models']:
                assert model['Config'] not in out, f'two entries for {model["Config"]}'
                out[model['Config']] = model
    return out


def test_model_index_imports_every_metafile():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    assert sorted(osp.join(ROOT, p) for p in imports) == _metafiles()


def test_one_entry_per_config_and_one_config_per_entry(entries):
    configs = sorted(osp.relpath(p, ROOT) for p in classification_configs())
    assert sorted(entries) == configs
    for config, model in entries.items():
        assert osp.isfile(osp.join(ROOT, config))
        assert model['Name'] == model_name(config)
        assert set(model['Metadata']) == {'FLOPs', 'Parameters', 'Training Data',
                                          'Architecture'}
        assert model['Results'][0]['Task'] == 'Image Classification'


def test_numbers_match_a_fresh_measurement_and_the_readme(entries):
    """Parameters counted again now; FLOPs equal to the README table's (the same run made
    both); published top-1 from the zoo's citations."""
    readme = open(osp.join(ROOT, 'README.md')).read()
    for config, model in entries.items():
        params = sum(p.numel() for p in meta.build(osp.join(ROOT, config)).parameters())
        assert model['Metadata']['Parameters'] == params, config
        row = re.search(rf'\| `{re.escape(config)}` \| ([\d.]+) \| ([\d.]+) \|', readme)
        assert row, f'{config} is not in the README table'
        assert float(row.group(1)) == round(params / 1e6, 2), config
        assert float(row.group(2)) == round(model['Metadata']['FLOPs'] / 1e9, 2), config
        from mmengine.config import Config
        pub = published(Config.fromfile(osp.join(ROOT, config)).model.backbone,
                        osp.join(ROOT, config))
        metrics = model['Results'][0]['Metrics']
        assert (metrics or {}).get('Top 1 Accuracy') == (pub[0] if pub else None), config


def test_flops_of_a_small_model_are_current(entries):
    from mmengine.config import Config
    from analysis._lib.zoo import build_classifier, measure, test_input_size
    config = 'configs/sknet/skresnet18_8xb32_in1k.py'
    cfg = Config.fromfile(osp.join(ROOT, config))
    # the index holds FLOPs at the README table's precision (0.01 G)
    flops = measure(build_classifier(cfg), test_input_size(cfg))[1]
    assert round(flops / 1e9, 2) == entries[config]['Metadata']['FLOPs'] / 1e9


def test_files_are_what_the_generator_writes(entries):
    """Regenerated from the entries' FLOPs and fresh weights checks: byte for byte equal."""
    from mmengine.config import Config
    rows = [dict(config=c, params=m['Metadata']['Parameters'], flops=m['Metadata']['FLOPs'],
                 top1=(m['Results'][0]['Metrics'] or {}).get('Top 1 Accuracy'),
                 top1_source=None) for c, m in entries.items()]
    for row in rows:
        pub = published(Config.fromfile(osp.join(ROOT, row['config'])).model.backbone,
                        osp.join(ROOT, row['config']))
        row['top1_source'] = pub[1] if pub else None
    weights = {c: meta.resolve_weights(osp.join(ROOT, c), log=print) for c in entries}
    archs = {c: meta.architecture(Config.fromfile(osp.join(ROOT, c)).model) for c in entries}
    for path in _metafiles():
        fam = osp.basename(osp.dirname(path))
        expected = meta.metafile_text(fam, [r for r in rows if meta.family(r['config']) == fam],
                                      weights, archs)
        assert open(path).read() == expected, path


def test_weights_sources():
    """OpenMMLab URLs from MMPreTrain's metafiles where MMPreTrain's model is ours, timm for
    families timm publishes; a candidate with other keys or shapes is refused."""
    w = {osp.basename(c): meta.resolve_weights(c, log=lambda s: None)
         for c in classification_configs()}
    assert w['resnet50_8xb32_in1k.py']['Weights'].startswith(
        'https://download.openmmlab.com/mmclassification/')
    assert w['seresnet101_8xb32_in1k.py']['Weights'].endswith('.pth')
    assert w['resnest269_8xb32_in1k.py']['Weights'] == 'timm://resnest269e.in1k'
    assert w['sknet50_8xb32_in1k.py']['Converted From']['Weights'] == \
        'https://huggingface.co/timm/skresnext50_32x4d.ra_in1k'
    assert w['scnet50_8xb32_in1k.py'] is None
    assert meta.mismatch({'a': (1, )}, {'a': (2, ), 'b': (1, )}).startswith(
        '0 missing (e.g. []), 1 unexpected')
