"""Train every backbone family's Faster R-CNN config with one identical schedule on the shapes
data and compare them.

Usage::

    python tools/analysis/family_detection.py [CONFIG ...] [--epochs 12]
        [--work-dir work_dirs/family_detection] [--out docs/family_detection.md]
        [--json rows.json] [--png docs/family_detection.png]

Default configs: one ``configs/mmdet/faster-rcnn_*.py`` per family (:data:`FAMILIES`). Each
family's backbone (type and arguments as its config builds it) goes into the detection demo
(``configs/demo/faster-rcnn_resnet18_fpn_*_shapes.py``), which gives everything else: the
64-channel FPN, RPN and box head, the generated shapes data at 128 px, the anchors for 15-64 px
objects, the sampler sizes, the SGD + warm-up + cosine schedule (``--epochs``) and the seed. So
only the backbone differs. Backbones start from random weights with their BN trained (no
ImageNet weights here): the table compares how fast each family learns from scratch on a small
detection task; it is a measurement, not a ranking on COCO.

Each run goes through ``tools/train.py`` and ``tools/test.py`` (held-out val split); the table
gives bbox mAP, mAP_50, backbone params and FLOPs (mmengine.analysis at 128x128), detector
params and seconds per training iteration (the logged iteration times, data loading included).
Runs already finished in the work dir are reused unless ``--force``.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'tools'), os.path.join(ROOT, 'tools', 'analysis')]
from _cli import CLIError, run_main  # noqa: E402

from analysis._lib.family import (finished_run, run_family_table, run_script,  # noqa: E402
                                  save_run)

DEMO = 'configs/demo/faster-rcnn_resnet18_fpn_1xb8-4e_shapes.py'
FAMILIES = {
    'ResNet-50': 'faster-rcnn_resnet50_fpn_syncbn_1x_coco.py',
    'ResNetV2-50': 'faster-rcnn_resnetv2-50_fpn_syncbn_1x_coco.py',
    'ResNeXt-50 32x4d': 'faster-rcnn_resnext50-32x4d_fpn_syncbn_1x_coco.py',
    'SE-ResNet-50': 'faster-rcnn_seresnet50_fpn_syncbn_1x_coco.py',
    'SE-ResNeXt-50 32x4d': 'faster-rcnn_seresnext50-32x4d_fpn_syncbn_1x_coco.py',
    'CBAM-ResNet-50': 'faster-rcnn_cbam-resnet50_fpn_syncbn_1x_coco.py',
    'SKNet-50': 'faster-rcnn_sknet50_fpn_syncbn_1x_coco.py',
    'SCNet-50': 'faster-rcnn_scnet50_fpn_syncbn_1x_coco.py',
    'ResNeSt-50': 'faster-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py',
    'Attention-56': 'faster-rcnn_attention56_fpn_syncbn_1x_coco.py',
}


def family_config(config, epochs, data_root=None, num_train=None):
    """The demo detector with the family's backbone, shortened to ``epochs`` epochs (an
    mmengine Config): only the backbone (and the FPN's input widths) differ between families."""
    from mmengine.config import Config
    if epochs < 1:
        raise CLIError(f'--epochs must be >= 1, got {epochs}')
    own = Config.fromfile(config)
    cfg = Config.fromfile(os.path.join(ROOT, DEMO))
    backbone = own.model.backbone
    backbone.init_cfg = None  # nothing pretrained here: train BN, freeze nothing
    backbone.norm_eval = False
    if 'frozen_stages' in backbone:
        backbone.frozen_stages = -1
    cfg.model.backbone = backbone
    cfg.model.neck.in_channels = own.model.neck.in_channels
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    for sched in cfg.param_scheduler:
        if sched.type == 'CosineAnnealingLR':
            sched.T_max = sched.end = epochs
    if data_root:
        root = data_root.rstrip('/') + '/'
        for split in ('train', 'val', 'test'):
            cfg[f'{split}_dataloader'].dataset.data_root = root
        for split in ('val', 'test'):
            cfg[f'{split}_evaluator'].ann_file = root + 'annotations/instances_val2017.json'
    if num_train:
        cfg.train_dataloader.dataset.indices = num_train
    return cfg


def test_metrics(config, ckpt, work_dir):
    """bbox mAP and mAP_50 of ``ckpt`` on the val split, through tools/test.py."""
    from run_demo import TASKS
    out, _ = run_script(['tools/test.py', config, ckpt, '--work-dir',
                         os.path.join(work_dir, 'test')], f'testing {config}', log=lambda _: None)
    found = dict(re.findall(TASKS['mmdet']['metrics'], out))
    return float(found['coco/bbox_mAP']), float(found['coco/bbox_mAP_50'])


def run_family(name, config, args, log=print):
    """Train + test one family (reused when its record says it finished the same run)."""
    work_dir = os.path.join(args.work_dir, re.sub(r'[^A-Za-z0-9]+', '-', name).strip('-'))
    done = finished_run(work_dir, args.force, epochs=args.epochs, config=config)
    if done:
        log(f'reuse {work_dir}')
        return done
    os.makedirs(work_dir, exist_ok=True)
    cfg = family_config(config, args.epochs, args.data_root, args.num_train)
    run_config = os.path.join(work_dir, 'family_config.py')
    cfg.dump(run_config)
    # --no-validate: tools/test.py scores the final checkpoint once, below
    _, wall = run_script(['tools/train.py', run_config, '--work-dir', work_dir,
                          '--no-validate'], f'training {config}', log)
    with open(os.path.join(work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    mAP, mAP_50 = test_metrics(run_config, ckpt, work_dir)
    from plot_logs import find_scalars, load_scalars
    train, _ = load_scalars(find_scalars(work_dir))
    times = [r['time'] for r in train if 'time' in r]
    done = dict(model=name, config=config, epochs=args.epochs, mAP=mAP, mAP_50=mAP_50,
                s_per_iter=sum(times) / len(times) if times else None, wall_s=wall)
    done.update(measure(cfg))
    return save_run(work_dir, done)


def measure(cfg):
    """Backbone params/FLOPs at 128x128 and detector params of a family config."""
    from mmengine.analysis import get_model_complexity_info
    from mmengine.registry import DefaultScope

    import mmresfam  # noqa: F401
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = MODELS.build(cfg.model)
    backbone = detector.backbone.eval()
    info = get_model_complexity_info(backbone, input_shape=(3, 128, 128), show_table=False,
                                     show_arch=False)
    return dict(backbone_params=int(info['params']), backbone_flops=int(info['flops']),
                detector_params=sum(p.numel() for p in detector.parameters()))


def format_table(rows, epochs):
    lines = [f'| backbone | config | bbox mAP ({epochs} ep) | mAP_50 | backbone params (M) | '
             'backbone GFLOPs @128 | detector params (M) | s / iter |',
             '|---|---|---|---|---|---|---|---|']
    for r in sorted(rows, key=lambda r: -(r.get('mAP') if r.get('mAP') is not None else -1)):
        config = os.path.relpath(r['config'], ROOT)
        if r.get('error'):
            lines.append(f"| {r['model']} | `{config}` | failed | | | | | |")
            continue
        lines.append(f"| {r['model']} | `{config}` | {r['mAP']:.3f} | {r['mAP_50']:.3f} | "
                     f"{r['backbone_params'] / 1e6:.2f} | {r['backbone_flops'] / 1e9:.2f} | "
                     f"{r['detector_params'] / 1e6:.2f} | {r['s_per_iter']:.2f} |")
    return '\n'.join(lines)


def bar_chart(rows, path, epochs):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = sorted(rows, key=lambda r: -r['mAP'])
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(rows)), 4))
    ax.bar([i - 0.2 for i in x], [r['mAP'] for r in rows], 0.4, label='mAP@[.5:.95]')
    ax.bar([i + 0.2 for i in x], [r['mAP_50'] for r in rows], 0.4, label='mAP@.5')
    ax.set_ylim(0, 1)
    ax.set_ylabel(f'bbox mAP on held-out shapes after {epochs} epochs')
    ax.set_xticks(list(x))
    ax.set_xticklabels([r['model'] for r in rows], rotation=45, ha='right', fontsize=8)
    ax.legend(loc='upper right')
    ax.set_title('Faster R-CNN + FPN, each family from scratch, same schedule')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('configs', nargs='*', help='Faster R-CNN configs (default: one per family)')
    p.add_argument('--epochs', type=int, default=12)
    p.add_argument('--data-root', help='shapes data (default: the demo config\'s, generated '
                   'as `make demo-det` does when missing)')
    p.add_argument('--num-train', type=int, help='use only the first N training images')
    p.add_argument('--work-dir', default=os.path.join(ROOT, 'work_dirs', 'family_detection'))
    p.add_argument('--out', help='markdown table file')
    p.add_argument('--json', help='rows as JSON')
    p.add_argument('--png', default='family_detection.png')
    p.add_argument('--force', action='store_true', help='retrain finished runs')
    args = p.parse_args(argv)
    if args.configs:
        configs = {os.path.splitext(os.path.basename(c))[0]: os.path.abspath(c)
                   for c in args.configs}
    else:
        configs = {name: os.path.join(ROOT, 'configs', 'mmdet', f)
                   for name, f in FAMILIES.items()}
    for config in configs.values():
        if not os.path.isfile(config):
            raise CLIError(f'config not found: {config}')
    if args.data_root is None:
        from run_demo import TASKS
        root = 'data/shapes_coco'
        if not glob.glob(os.path.join(ROOT, root, 'annotations', '*.json')):
            subprocess.run([sys.executable, *[a.format(root=root)
                                              for a in TASKS['mmdet']['data']]],
                           cwd=ROOT, check=True)
    return run_family_table(
        configs.items(), lambda name, config: run_family(name, config, args),
        lambda r: (f"{r['model']:22s} mAP {r['mAP']:.3f} mAP_50 {r['mAP_50']:.3f} "
                   f"{r['s_per_iter']:.2f} s/iter"),
        format_table, bar_chart, args)


if __name__ == '__main__':
    run_main(main)
