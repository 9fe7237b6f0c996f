"""A hook that draws the training curves of a run as a PNG in its work dir."""
import os.path as osp
from collections import defaultdict

from mmengine.hooks import Hook

from mmresfam.registry import HOOKS


@HOOKS.register_module()
class TrainingCurveHook(Hook):
    """Plot the mean training loss and the validation metrics per epoch.

    After every validation the figure is redrawn to ``<work_dir>/<filename>`` (loss on the
    left, each validation metric on the right; COCO's -1 for an empty size range is left out),
    so a run that stops early still leaves its curve. The numbers are kept in ``self.history`` (``epoch_loss``: ``(epoch, mean loss)``
    pairs; ``val``: ``(epoch, value)`` pairs per metric, epochs counted from 1) and saved in
    every checkpoint's ``meta``, so a resumed run draws the epochs before the resume too.

    Args:
        filename (str): Name of the PNG inside the work dir. Default: ``'curves.png'``.
        loss_key (str): Key of the logged training loss. Default: ``'loss'``.
    """

    priority = 'LOW'

    def __init__(self, filename='curves.png', loss_key='loss'):
        self.filename = filename
        self.loss_key = loss_key
        self.history = dict(epoch_loss=[], val=defaultdict(list))
        self._epoch_losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if outputs and self.loss_key in outputs:
            loss = outputs[self.loss_key]  # MMSegmentation hands back the graph's tensor
            self._epoch_losses.append(float(loss.detach() if hasattr(loss, 'detach') else loss))

    def after_train_epoch(self, runner):
        if self._epoch_losses:  # runner.epoch counts from 0 until the epoch has ended
            mean = sum(self._epoch_losses) / len(self._epoch_losses)
            self.history['epoch_loss'].append((runner.epoch + 1, mean))
        self._epoch_losses = []

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint.setdefault('meta', {})['training_curves'] = dict(
            epoch_loss=[list(p) for p in self.history['epoch_loss']],
            val={k: [list(p) for p in v] for k, v in self.history['val'].items()})

    def after_load_checkpoint(self, runner, checkpoint):
        saved = checkpoint.get('meta', {}).get('training_curves')
        if not saved or not getattr(runner, '_resume', False):
            return  # a new run from loaded weights starts its own curves
        last = checkpoint['meta'].get('epoch', 0)
        self.history['epoch_loss'] = [tuple(p) for p in saved['epoch_loss'] if p[0] <= last]
        self.history['val'] = defaultdict(list, {
            k: [tuple(p) for p in v if p[0] <= last] for k, v in saved['val'].items()})

    def after_val_epoch(self, runner, metrics=None):
        for key, value in (metrics or {}).items():
            # -1 is pycocotools' "no object of this size in the split", not a score
            if isinstance(value, (int, float)) and value != -1:
                self.history['val'][key].append((runner.epoch, float(value)))
        if runner.rank == 0:
            self.draw(osp.join(runner.work_dir, self.filename))

    def after_train(self, runner):
        if runner.rank == 0 and self.history['epoch_loss']:
            self.draw(osp.join(runner.work_dir, self.filename))

    def draw(self, path):
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 4))
        losses = self.history['epoch_loss']
        ax_loss.plot([p[0] for p in losses], [p[1] for p in losses], marker='o')
        ax_loss.set(xlabel='epoch', ylabel='mean train loss', title='training loss')
        for key, points in self.history['val'].items():
            ax_val.plot([p[0] for p in points], [p[1] for p in points], marker='o', label=key)
        ax_val.set(xlabel='epoch', ylabel='metric', title='validation')
        if self.history['val']:
            ax_val.legend()
        for ax in (ax_loss, ax_val):
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
