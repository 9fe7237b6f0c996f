"""A hook that draws the training curves of a run as a PNG in its work dir."""
import os.path as osp
from collections import defaultdict

from mmengine.hooks import Hook

from mmresfam.registry import HOOKS


@HOOKS.register_module()
class TrainingCurveHook(Hook):
    """Plot the mean training loss and the validation metrics per epoch.

    After every validation the figure is redrawn to ``<work_dir>/<filename>`` (loss on the
    left, each validation metric on the right), so a run that stops early still leaves its
    curve. The numbers are also kept in ``self.history`` for tests and scripts.

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
            self._epoch_losses.append(float(outputs[self.loss_key]))

    def after_train_epoch(self, runner):
        if self._epoch_losses:
            self.history['epoch_loss'].append(sum(self._epoch_losses) / len(self._epoch_losses))
        self._epoch_losses = []

    def after_val_epoch(self, runner, metrics=None):
        for key, value in (metrics or {}).items():
            if isinstance(value, (int, float)):
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
        ax_loss.plot(range(1, len(losses) + 1), losses, marker='o')
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
