"""What every tool in ``tools/`` shares: start-up, config loading, model building, errors.

* :func:`run_main`: a tool's ``if __name__ == '__main__'`` entry: keeps freed memory in the
  process (:func:`mmresfam.engine.keep_freed_memory`), then exits with ``main()``'s status.
* :func:`load_config`: read a config, apply ``--cfg-options`` after checking every key path.
* :func:`register_scope`: import the OpenMMLab library named by the config's ``default_scope``
  (mmpretrain, mmdet or mmseg) so its datasets, transforms, metrics and hooks are registered.
* :func:`build_model`, :func:`build_runner`: the model, or mmengine's runner, of a config.
* :func:`require_file`: a named input file must exist.
* :func:`friendly_errors`: turn the user's input mistakes into a one-line message and exit 1.
  Only loading and building go inside it; an error raised while a model trains, tests or
  exports shows its traceback.
"""
import contextlib
import os
import os.path as osp
import sys

SCOPES = ('mmpretrain', 'mmdet', 'mmseg')


class CLIError(Exception):
    """An error whose message alone tells the user what to fix."""


def _runner_arguments():
    """Names of the arguments of mmengine's ``Runner``, which it reads from a config even when
    the config leaves them out (``randomness``, ``env_cfg``, ...)."""
    import inspect

    from mmengine.runner import Runner
    return set(inspect.signature(Runner.__init__).parameters) - {'self'}


def _parameters(fn, drop=('self', 'runner', 'dataloader', 'evaluator')):
    """Names ``fn`` accepts as keywords, or None if it takes ``**kwargs`` (anything)."""
    import inspect
    params = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return set(params) - set(drop)


def _accepted_keys(cfg, path):
    """Keys that mmengine accepts in the untyped dict at ``path`` ('train_cfg', 'env_cfg',
    ...) although the config may not set them: the arguments of what the runner builds or
    calls with it. None: anything may be set there; empty: nothing beyond the file's keys."""
    import torch.distributed
    from mmengine.optim import OptimWrapper
    from mmengine.runner import Runner, loops
    from torch.utils.data import DataLoader
    if path == 'train_cfg':
        by_epoch = (cfg.get('train_cfg') or {}).get('by_epoch', True)
        loop = loops.EpochBasedTrainLoop if by_epoch else loops.IterBasedTrainLoop
        return _parameters(loop.__init__) | {'by_epoch', 'type'}
    if path in ('val_cfg', 'test_cfg'):
        loop = loops.ValLoop if path == 'val_cfg' else loops.TestLoop
        return _parameters(loop.__init__) | {'type'}
    if path.endswith('_dataloader'):
        return _parameters(DataLoader.__init__, drop=('self', )) | {'type'}
    if path == 'randomness':
        return _parameters(Runner.set_randomness)
    if path == 'env_cfg':  # what Runner.setup_env reads
        return {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'}
    if path == 'env_cfg.dist_cfg':  # passed to torch.distributed.init_process_group
        return _parameters(torch.distributed.init_process_group, drop=()) | {'init_backend'}
    if path == 'env_cfg.mp_cfg':
        return {'mp_start_method', 'opencv_num_threads'}
    if path == 'optim_wrapper':
        return _parameters(OptimWrapper.__init__)
    if path == 'auto_scale_lr':
        return {'enable', 'base_batch_size'}
    return set()


def _check_key_path(cfg, key):
    """Raise :class:`CLIError` if ``key`` ('a.b.0.c') does not name a place in ``cfg``.

    Every part must exist, except

    * where its parent is a buildable dict (has ``type``): a new argument there is checked by
      the class itself when the object is built, and may be a nested dict given key by key
      (``train_dataloader.dataset.metainfo.classes=(a,b)``);
    * where its parent is a dict mmengine consumes whose consumer accepts the key
      (:func:`_accepted_keys`: ``train_cfg.val_begin``, ``train_dataloader.drop_last``,
      ``randomness.diff_rank_seed``, ``env_cfg.dist_cfg.timeout``, ...);
    * below a value that is None (``optim_wrapper.clip_grad.max_norm=1`` where the config has
      ``clip_grad=None``): the option creates the dict there;
    * a top-level key that the config lacks but that is an argument of mmengine's ``Runner``
      (``randomness.seed=0`` on an MMDetection config, whose runtime has no ``randomness``).
    """
    node, walked = getattr(cfg, '_cfg_dict', cfg), []
    parts = key.split('.')
    if parts[0] not in node and parts[0] in _runner_arguments():
        return
    for part in parts:
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                raise CLIError(f"--cfg-options key '{key}': '{'.'.join(walked) or 'cfg'}' is "
                               f'a list of {len(node)} items, {part!r} is not a valid index')
            node = node[int(part)]
        elif node is None:
            return
        elif isinstance(node, dict):
            if part not in node:
                accepted = set() if 'type' in node else _accepted_keys(cfg, '.'.join(walked))
                if 'type' in node or accepted is None or part in accepted:
                    return
                where = '.'.join(walked) or 'the config'
                near = ', '.join(sorted(set(map(str, node.keys())) | (accepted or set()))[:16])
                raise CLIError(f"--cfg-options key '{key}': '{part}' is not a key of {where} "
                               f'(accepted there: {near})')
            node = node[part]
        else:
            raise CLIError(f"--cfg-options key '{key}': '{'.'.join(walked)}' is a "
                           f'{type(node).__name__}, not a dict or list')
        walked.append(part)


def run_main(main):
    """Run a tool's ``main()`` as a program and exit with its return value (None: 0).

    First makes glibc keep freed memory in the process
    (:func:`mmresfam.engine.keep_freed_memory`; an allocator setting of the user wins), so
    the plain command line trains at the measured speed.
    """
    from mmresfam.engine import keep_freed_memory
    keep_freed_memory()
    sys.exit(main())


def require_file(path, what):
    """Raise :class:`CLIError` ``'<what> file not found: <path>'`` unless ``path`` is a file."""
    if not osp.isfile(path):
        raise CLIError(f'{what} file not found: {path}')


def _check_value(cfg, key, value):
    """Raise :class:`CLIError` when a number in the config is given a word (``max_epochs=abc``)."""
    node = getattr(cfg, '_cfg_dict', cfg)
    for part in key.split('.'):
        try:
            node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return
    if isinstance(node, (int, float)) and not isinstance(node, bool) and isinstance(value, str):
        raise CLIError(f"--cfg-options {key}={value}: {key} is a number (the config has "
                       f'{node!r}), {value!r} is not')


def load_config(path, cfg_options=None):
    """Read the config ``path`` and merge ``cfg_options`` (``--cfg-options``) after checking
    every key path and number; a missing file or a syntax error is a :class:`CLIError`."""
    from mmengine.config import Config
    require_file(path, 'config')
    try:
        cfg = Config.fromfile(path)
    except SyntaxError as e:  # mmengine's message has the line, not always the file
        where = e.filename if e.filename and not e.filename.startswith('<') else path
        raise CLIError(f'syntax error in config {where}: {e}') from None
    if cfg_options:
        for key, value in cfg_options.items():
            _check_key_path(cfg, key)
            _check_value(cfg, key, value)
            for sub, sub_value in (value.items() if isinstance(value, dict) else ()):
                _check_key_path(cfg, f'{key}.{sub}')
                _check_value(cfg, f'{key}.{sub}', sub_value)
        cfg.merge_from_dict(cfg_options)
    return cfg


def check_launcher(launcher):
    """Raise :class:`CLIError` when ``--launcher`` lacks the environment its starter sets."""
    needs = dict(pytorch=('RANK', 'torchrun (tools/dist_train.sh, tools/dist_test.sh)'),
                 slurm=('SLURM_PROCID', 'srun (tools/slurm_train.sh)'),
                 mpi=('OMPI_COMM_WORLD_RANK', 'mpirun'))
    if launcher in needs and needs[launcher][0] not in os.environ:
        var, starter = needs[launcher]
        raise CLIError(f'--launcher {launcher} needs the environment set by {starter} '
                       f'({var} is not set); run without --launcher for one process')


def _literal_dict(text):
    """``{'a': 1}`` or ``dict(a=1, b='x')`` (literals only) as a dict; None for anything else.
    mmengine's ``DictAction`` splits such a value at its commas into a list."""
    import ast
    text = text.strip()
    if not text.startswith(('{', 'dict(')):
        return None
    try:
        node = ast.parse(text, mode='eval').body
        if isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'dict' \
                and not node.args and all(k.arg for k in node.keywords):
            return {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        value = ast.literal_eval(node)
        return value if isinstance(value, dict) else None
    except (SyntaxError, ValueError):
        return None


def dict_action():
    """mmengine's ``DictAction`` for ``--cfg-options`` that refuses an item without ``=`` and
    reads a dict value (``env_cfg.dist_cfg=dict(backend='gloo', timeout=60)``) as a dict."""
    from mmengine.config import DictAction

    class CheckedDictAction(DictAction):

        def __call__(self, parser, namespace, values, option_string=None):
            dicts, rest = {}, []
            for kv in values:
                if '=' not in kv:
                    parser.error(f"{option_string} '{kv}': expected KEY=VALUE")
                key, value = kv.split('=', 1)
                parsed = _literal_dict(value)
                if parsed is None:
                    rest.append(kv)
                else:
                    dicts[key] = parsed
            super().__call__(parser, namespace, rest, option_string)
            setattr(namespace, self.dest, {**(getattr(namespace, self.dest) or {}), **dicts})

    return CheckedDictAction


def read_checkpoint(path, what='checkpoint'):
    """Load the checkpoint file ``path`` on the CPU, memory-mapped.

    Raises :class:`CLIError` naming the file when it does not exist, is cut short or corrupt,
    or is not a PyTorch checkpoint, instead of torch's traceback.
    """
    import torch
    if not osp.isfile(path):
        raise CLIError(f'{what} file not found: {path}')
    try:
        try:
            return torch.load(path, map_location='cpu', mmap=True)
        except RuntimeError as e:  # a legacy (non-zip) file cannot be memory-mapped
            if 'mmap' not in str(e):
                raise
            return torch.load(path, map_location='cpu')
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        first = (str(e).strip().splitlines() or [''])[0][:200]
        raise CLIError(f'cannot read {what} {path}: truncated, corrupt or not a PyTorch '
                       f'checkpoint ({type(e).__name__}: {first})') from None


def checkpoint_state(path):
    """The state_dict of the checkpoint file ``path``; :class:`CLIError` if it has none or
    cannot be read (:func:`read_checkpoint`)."""
    checkpoint = read_checkpoint(path)
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CLIError(f'checkpoint {path} holds no state_dict')
    return state


def check_trained(model, state, path, tool):
    """Refuse a trained checkpoint ``state`` that does not fit ``model`` (``ValueError`` with
    the counts of missing, unexpected and mis-shaped keys); warn loudly on stderr when it holds
    NaN/Inf (a diverged run: every score from it is meaningless)."""
    from mmresfam.models.utils.model_checks import check_checkpoint_fits, non_finite_tensors
    check_checkpoint_fits(model, state, path)
    bad = non_finite_tensors(state)
    if bad:
        print(f'{tool}: WARNING: checkpoint {path} holds NaN/Inf in {len(bad)} tensors (e.g. '
              f'{", ".join(bad[:3])}): the training diverged and its outputs are meaningless',
              file=sys.stderr)


def load_model_checkpoint(model, path, tool):
    """Load the trained checkpoint ``path`` into ``model`` after :func:`checkpoint_state` and
    :func:`check_trained` (which raise the one-line error of a checkpoint that does not fit)."""
    from mmengine.runner.checkpoint import load_state_dict
    state = checkpoint_state(path)
    check_trained(model, state, path, tool)
    load_state_dict(model, {k[7:] if k.startswith('module.') else k: v
                            for k, v in state.items()})


def register_scope(cfg):
    """Import mmresfam and the library of the config's ``default_scope``."""
    import importlib

    import mmresfam  # noqa: F401
    scope = cfg.get('default_scope', 'mmpretrain')
    if scope not in SCOPES + ('mmresfam', 'mmengine'):
        raise CLIError(f"default_scope={scope!r} is not supported; allowed values are "
                       f'{list(SCOPES)}')
    if scope in SCOPES:
        importlib.import_module(f'{scope}.utils').register_all_modules(
            init_default_scope=False)
    return scope


def build_model(cfg, model_cfg=None):
    """Build ``model_cfg`` (default ``cfg.model``) with the registry of the config's
    ``default_scope``, that scope being the default while it builds (as in a runner)."""
    import importlib

    from mmengine.registry import DefaultScope
    scope = register_scope(cfg)
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg.model if model_cfg is None else model_cfg)


def build_runner(cfg):
    """mmengine's ``Runner`` (or the config's ``runner_type``) for ``cfg``, model built and
    checked: a distributed run without CUDA gets gloo and the CPU DDP wrapper, and the neck or
    head ``in_channels`` must be what the backbone returns (fails now, not in a forward)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from mmresfam.engine import setup_cpu_distributed
    from mmresfam.models.utils import check_neck_channels
    setup_cpu_distributed(cfg, cfg.get('launcher', 'none'))
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    check_neck_channels(runner.model)
    return runner


@contextlib.contextmanager
def friendly_errors(tool):
    """Print ``<tool>: error: <message>`` and exit 1 for config and build errors.

    Wrap only what reads and checks the user's input (config, ``--cfg-options``, files, model
    and runner building): an error inside it is the user's to fix, in one line. Set
    ``MMRESFAM_DEBUG=1`` to get the full traceback instead.
    """
    try:
        yield
    except (CLIError, KeyError, TypeError, ValueError, FileNotFoundError,
            ModuleNotFoundError) as e:
        if os.environ.get('MMRESFAM_DEBUG'):
            raise
        msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        if 'Original Traceback' in msg:  # re-raised from a DataLoader worker: its last line
            msg = msg.strip().splitlines()[-1]
        msg = ' '.join(msg.split())
        print(f'{tool}: error: {type(e).__name__}: {msg} '
              '(set MMRESFAM_DEBUG=1 for the traceback)', file=sys.stderr)
        sys.exit(1)
