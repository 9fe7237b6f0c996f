"""Evaluate a checkpoint on the test set of a classification, detection or segmentation config.

Flags match mmpretrain's ``tools/test.py``: ``--out`` dumps the predictions (pickle),
``--show-dir`` draws them with the library's visualisation hook.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _cli import (CLIError, build_runner, check_launcher, check_trained,  # noqa: E402
                  checkpoint_state, dict_action, friendly_errors, load_config,
                  register_scope, run_main)

# How each library's visualisation hook is told to save drawn predictions.
SHOW_DIR_HOOKS = {
    'mmpretrain': lambda hook, d: hook.update(enable=True, out_dir=d),
    'mmdet': lambda hook, d: hook.update(draw=True, test_out_dir=d),
    'mmseg': lambda hook, d: hook.update(draw=True, interval=1),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model with mmresfam')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation log')
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    parser.add_argument('--show-dir', help='save images with drawn predictions here')
    parser.add_argument('--cfg-options', nargs='+', action=dict_action(),
                        help='override settings (every key path is checked)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    with friendly_errors('test.py'):
        state = checkpoint_state(args.checkpoint)
        check_launcher(args.launcher)
        cfg = load_config(args.config, args.cfg_options)
        scope = register_scope(cfg)
        cfg.launcher = args.launcher
        cfg.load_from = args.checkpoint
        if args.work_dir is not None:
            cfg.work_dir = args.work_dir
        elif cfg.get('work_dir') is None:
            cfg.work_dir = osp.join('./work_dirs',
                                    osp.splitext(osp.basename(args.config))[0])
        if args.show_dir:
            hook = cfg.default_hooks.get('visualization')
            if hook is None or scope not in SHOW_DIR_HOOKS:
                raise CLIError('--show-dir needs a visualization hook in default_hooks')
            SHOW_DIR_HOOKS[scope](hook, args.show_dir)
            if scope == 'mmseg':
                cfg.visualizer['save_dir'] = args.show_dir
        if args.out:
            if not args.out.endswith(('.pkl', '.pickle')):
                raise CLIError(f'--out must be a .pkl or .pickle file, got {args.out}')
            evaluator = cfg.test_evaluator
            evaluator = list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
            cfg.test_evaluator = evaluator + [dict(type='DumpResults', out_file_path=args.out)]
        runner = build_runner(cfg)
        # a checkpoint of another model would be scored with partly random weights
        check_trained(runner.model, state, args.checkpoint, 'test.py')
        runner.test_loop  # noqa: B018  (the data folder is the user's input too)
    metrics = runner.test()  # an error while testing shows its traceback
    from mmengine.dist import get_rank
    if get_rank() == 0:  # every rank holds the gathered metrics: print them once
        print(' '.join(f'{k}: {v:.4f}' if isinstance(v, float) else f'{k}: {v}'
                       for k, v in metrics.items()))


if __name__ == '__main__':
    run_main(main)
