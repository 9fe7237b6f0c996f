"""Train a classification, detection or segmentation model from a config.

The runner follows the config's ``default_scope`` (``mmpretrain``, ``mmdet`` or ``mmseg``):
that library's modules are registered and mmengine's ``Runner`` (or the config's
``runner_type``) runs the job. Flags match mmpretrain's ``tools/train.py``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _cli import (CLIError, build_runner, check_launcher, dict_action,  # noqa: E402
                  friendly_errors, load_config, read_checkpoint, register_scope, run_main)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model with mmresfam')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or from the latest one in the work dir '
        'when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the real total batch size')
    parser.add_argument('--compile', action='store_true',
                        help='wrap the model with torch.compile (mmengine compile option)')
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='disable pin_memory in all dataloaders')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='disable persistent_workers in all dataloaders')
    parser.add_argument(
        '--cfg-options', nargs='+', action=dict_action(),
        help='override settings, e.g. train_cfg.max_epochs=1 (every key path is checked)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def latest_checkpoint(work_dir):
    """The checkpoint ``--resume`` without a path continues from, or None.

    mmengine's ``last_checkpoint`` file when it names an existing file; otherwise (a run
    killed while it wrote that file) the ``epoch_N.pth``/``iter_N.pth`` with the largest N.
    """
    import glob
    import re
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            return named
    numbered = [(int(m.group(2)), m.group(1) == 'epoch', path)
                for path in glob.glob(osp.join(work_dir, '*_*.pth'))
                for m in [re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(path))] if m]
    return max(numbered)[2] if numbered else None


def resume_checkpoint(cfg, resume):
    """Check what ``--resume`` names and return the checkpoint path to resume from.

    Raises :class:`CLIError` when the work dir has no checkpoint, the named file does not
    exist or cannot be read, or it lacks the optimizer or scheduler state that resuming
    restores (a ``best_*.pth`` or converted checkpoint: resuming from it would restart the
    warm-up silently; ``--cfg-options load_from=...`` starts a new run from its weights).
    """
    if resume == 'auto':
        path = latest_checkpoint(cfg.work_dir)
        if path is None:
            raise CLIError(f'--resume: no checkpoint to resume in the work dir {cfg.work_dir} '
                           '(no last_checkpoint, no epoch_*.pth); give --work-dir of the run '
                           'or --resume PATH')
    else:
        path = resume
    state = read_checkpoint(path, '--resume checkpoint')
    wanted = ['meta', 'optimizer'] + (['param_schedulers'] if cfg.get('param_scheduler') else [])
    lacking = [k for k in wanted if not isinstance(state, dict) or k not in state]
    if lacking:
        raise CLIError(f'--resume: {path} has no {"/".join(lacking)} state (a best_*.pth or '
                       'converted checkpoint?); resume from an epoch_*.pth, or start a new run '
                       f'from its weights with --cfg-options load_from={path}')
    return path


def merge_args(cfg, args):
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if osp.exists(cfg.work_dir) and not osp.isdir(cfg.work_dir):
        raise CLIError(f'--work-dir {cfg.work_dir} is a file, not a directory')
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise CLIError('--amp needs a CUDA device (mmengine\'s AmpOptimWrapper); this '
                           'machine has none: train in fp32 without --amp')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.resume is not None:
        cfg.resume, cfg.load_from = True, resume_checkpoint(cfg, args.resume)
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    if args.compile:
        cfg.compile = True
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader is None:
            continue
        if args.no_pin_memory:
            loader['pin_memory'] = False
        if args.no_persistent_workers or loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False
    return cfg


def main(argv=None):
    args = parse_args(argv)
    with friendly_errors('train.py'):
        check_launcher(args.launcher)
        cfg = load_config(args.config, args.cfg_options)
        register_scope(cfg)
        cfg = merge_args(cfg, args)
        runner = build_runner(cfg)
        # the data folders are the user's input too: build the loops (and their datasets) here
        runner.train_loop, runner.val_loop  # noqa: B018
    runner.train()  # an error while training shows its traceback


if __name__ == '__main__':
    run_main(main)
