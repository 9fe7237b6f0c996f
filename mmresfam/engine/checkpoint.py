"""Checkpoints that survive a kill at any instant.

mmengine 0.10's ``CheckpointHook`` deletes the oldest kept checkpoint *before* it writes the new
one, and its local file backend writes the new file in place. A ``kill -9`` while the new file
is being written (a checkpoint of a large model takes seconds) then leaves a truncated file, the
previous one already deleted and ``last_checkpoint`` naming a deleted file: nothing to resume.

* :class:`AtomicLocalBackend` (file backend ``'atomic_local'``): writes ``<path>.part``, syncs
  it and renames it onto ``<path>``, so a checkpoint file is either complete or absent.
* :class:`SafeCheckpointHook`: mmengine's ``CheckpointHook`` on that backend, deleting outdated
  (and previous best) checkpoints only after the new one is complete and ``last_checkpoint``
  names it.
* :func:`register_checkpoint_types`: run on ``import mmresfam``, lets ``torch.load`` with its
  defaults (``weights_only=True``) read the checkpoints mmengine writes.
"""
import contextlib
import importlib
import os
import pickle
import os.path as osp

from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook

from mmresfam.registry import HOOKS

PART_SUFFIX = '.part'


def register_checkpoint_types():
    """Allow the few non-tensor types of mmengine checkpoints in ``torch.load(weights_only=True)``.

    mmengine stores its message hub in every checkpoint: ``HistoryBuffer`` objects holding numpy
    arrays, and numpy scalars. torch >= 2.6 loads with ``weights_only=True`` by default and
    refuses them, so a checkpoint written by ``tools/train.py`` would not load in plain Python
    (or in MMDetection's ``Pretrained`` init). These types only hold numbers; they are added
    with ``torch.serialization.add_safe_globals``; the ``getattr`` that a ``HistoryBuffer``
    pickles its statistics methods with is served by a stand-in that returns only those
    methods (the built-in ``getattr`` stays forbidden). Nothing happens on a torch without
    ``add_safe_globals``.
    """
    import numpy as np
    import torch
    from mmengine.logging import HistoryBuffer
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return
    core = 'numpy.core' if int(np.__version__.split('.')[0]) < 2 else 'numpy._core'
    multiarray = importlib.import_module(f'{core}.multiarray')
    dtypes = {type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFDG'}
    add([HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
         *sorted(dtypes, key=str)])

    def history_buffer_method(owner, name):
        # a HistoryBuffer pickles its statistics methods as getattr(HistoryBuffer, 'mean'):
        # this getattr serves exactly those and nothing else
        allowed = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
        if owner is HistoryBuffer and name in allowed:
            return getattr(owner, name)
        raise pickle.UnpicklingError(
            f'weights_only load: getattr({owner!r}, {name!r}) is not allowed')

    add([(history_buffer_method, 'builtins.getattr')])


register_checkpoint_types()


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic.

    ``put``/``put_text`` write ``<filepath>.part``, flush it to disk (``os.fsync``) and rename it
    onto ``filepath`` (``os.replace``, atomic on POSIX and Windows), so a reader or a resumed
    run never sees a file cut short. A write interrupted by a kill leaves only the ``.part``
    file, which the next write of the same path replaces.
    """

    def put(self, obj: bytes, filepath) -> None:
        """Write ``obj`` (bytes) to ``filepath`` atomically."""
        self._replace(filepath, 'wb', obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        """Write ``obj`` (text, in ``encoding``) to ``filepath`` atomically."""
        self._replace(filepath, 'wb', obj.encode(encoding))

    @staticmethod
    def _replace(filepath, mode, data):
        filepath = str(filepath)
        os.makedirs(osp.dirname(osp.abspath(filepath)), exist_ok=True)
        part = filepath + PART_SUFFIX
        with open(part, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, filepath)


class _DeferredRemovals:
    """A file backend stand-in that records ``remove``/``rmtree`` calls instead of running
    them; every other attribute is the wrapped backend's."""

    def __init__(self, backend):
        self._backend = backend
        self.pending = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def remove(self, path):
        self.pending.append(('remove', path))

    def rmtree(self, path):
        self.pending.append(('rmtree', path))


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` that never leaves a run without a resumable checkpoint.

    Differences from the parent, nothing else:

    * checkpoints are written through :class:`AtomicLocalBackend` (unless ``backend_args``
      names another backend), so each file is complete or absent;
    * the outdated checkpoint (``max_keep_ckpts``) and the previous best checkpoint
      (``save_best``) are deleted only after the new file is complete and, for the former,
      after ``last_checkpoint`` names the new file.

    A kill at any instant therefore leaves ``last_checkpoint`` naming a complete checkpoint
    with optimizer and scheduler state (the one before at worst), and ``tools/train.py
    --resume`` continues from it.

    Args:
        backend_args (dict, optional): mmengine file backend arguments. Default:
            ``dict(backend='atomic_local')``.
        **kwargs: Every other argument of mmengine's ``CheckpointHook`` (``interval``,
            ``max_keep_ckpts``, ``save_best``, ``rule``, ...).
    """

    def __init__(self, backend_args=None, **kwargs):
        super().__init__(backend_args=backend_args or dict(backend='atomic_local'), **kwargs)

    @contextlib.contextmanager
    def _removals_after_save(self):
        """Run the parent's deletions only after the wrapped code saved its file; never delete
        a file that the parent has just (re)written."""
        deferred = _DeferredRemovals(self.file_backend)
        self.file_backend = deferred
        try:
            yield
        finally:
            self.file_backend = deferred._backend
        current = {self.last_ckpt, getattr(self, 'best_ckpt_path', None),
                   *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for action, path in deferred.pending:
            if path not in current:
                getattr(self.file_backend, action)(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        with self._removals_after_save():
            super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner, metrics):
        with self._removals_after_save():
            super()._save_best_checkpoint(runner, metrics)
