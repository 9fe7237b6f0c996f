"""tools/analysis/plot_logs.py and family_digits.py helpers (no training here)."""
import json
import os.path as osp

import pytest
from PIL import Image

from test_tools._helpers import ROOT, load_tool


def _load(name):
    return load_tool(f'tools/analysis/{name}.py')


@pytest.fixture
def work_dir(tmp_path):
    vis = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    recs = [dict(loss=2.0 - 0.1 * i, lr=0.1, time=0.5, epoch=1 + i // 5, iter=10 * (i + 1),
                 step=10 * (i + 1)) for i in range(10)]
    recs += [{'accuracy/top1': 50.0 + 10 * e, 'step': e} for e in (1, 2)]
    (vis / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in recs) + '\n')
    return tmp_path / 'run'


def test_plot_logs_writes_png(work_dir, tmp_path):
    out = tmp_path / 'c.png'
    assert _load('plot_logs').main([str(work_dir), '--out', str(out)]) == 0
    assert Image.open(out).size[0] > 100 and out.stat().st_size > 1000


def test_plot_logs_errors(work_dir, tmp_path):
    tool = _load('plot_logs')
    assert tool.main([str(tmp_path / 'nothing')]) == 2
    assert tool.main([str(work_dir), '--keys', 'nope', '--out', str(tmp_path / 'x.png')]) == 2
    train, val = tool.load_scalars(tool.find_scalars(str(work_dir)))
    assert len(train) == 10 and len(val) == 2


def test_family_digits_schedule_and_epoch_time(work_dir):
    from mmengine.config import Config
    fam = _load('family_digits')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/demo/resnet18_1xb32_digits.py'))
    opts = fam.schedule_options(cfg, 5)
    assert 'train_cfg.max_epochs=5' in opts
    assert 'param_scheduler.1.end=5' in opts and 'param_scheduler.0.end=1' in opts
    with pytest.raises(ValueError, match='--epochs must be >= 2'):
        fam.schedule_options(cfg, 1)
    train, _ = _load('plot_logs').load_scalars(
        str(work_dir / '20260101_000000' / 'vis_data' / 'scalars.json'))
    # 50 iterations per epoch (iter 100 after 2 epochs), 0.5 s each
    assert fam.epoch_seconds(train, 2) == pytest.approx(25.0)
