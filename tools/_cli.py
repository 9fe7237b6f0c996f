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

# mmengine 0.10 saves its message hub (HistoryBuffer, numpy scalars) in checkpoints and loads
# them with torch.load's old default; torch >= 2.6 defaults to weights_only=True, which refuses
# them. The tools load checkpoints the user names (or wrote with tools/train.py), as mmengine
# always did.
os.environ.setdefault('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')


class CLIError(Exception):
    """An error whose message alone tells the user what to fix."""


def _runner_arguments():
    """Names of the arguments of mmengine's ``Runner``, which it reads from a config even when
    the config leaves them out (``randomness``, ``env_cfg``, ...)."""
    import inspect

    from mmengine.runner import Runner
    return set(inspect.signature(Runner.__init__).parameters) - {'self'}


def _check_key_path(cfg, key):
    """Raise :class:`CLIError` if ``key`` ('a.b.0.c') does not name a place in ``cfg``.

    Every part must exist, except where its parent is a buildable dict (has ``type``): a new
    argument there is checked by the class itself when the object is built, and may be a
    nested dict given key by key (``train_dataloader.dataset.metainfo.classes=(a,b)``). A
    top-level key that the config lacks may also be an argument of mmengine's ``Runner``
    (``randomness.seed=0`` on an MMDetection config, whose runtime has no ``randomness``):
    the runner checks its own arguments.
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
        elif isinstance(node, dict):
            if part not in node:
                if 'type' in node:
                    return
                where = '.'.join(walked) or 'the config'
                near = ', '.join(sorted(map(str, node.keys()))[:12])
                raise CLIError(f"--cfg-options key '{key}': '{part}' is not a key of {where} "
                               f'(keys there: {near})')
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


def load_config(path, cfg_options=None):
    """Read the config at ``path``; apply ``cfg_options`` (``--cfg-options``) after checking
    that every key path names a place in the config (:class:`CLIError` otherwise)."""
    from mmengine.config import Config
    require_file(path, 'config')
    cfg = Config.fromfile(path)
    if cfg_options:
        for key in cfg_options:
            _check_key_path(cfg, key)
        cfg.merge_from_dict(cfg_options)
    return cfg


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
        msg = ' '.join(msg.split())
        print(f'{tool}: error: {type(e).__name__}: {msg} '
              '(set MMRESFAM_DEBUG=1 for the traceback)', file=sys.stderr)
        sys.exit(1)
