"""TrainingCurveHook: each loss at its epoch, and the epochs before a resume kept."""
import torch

from mmresfam.engine.hooks import TrainingCurveHook


class _Runner:
    rank = 0

    def __init__(self, work_dir, resume=False):
        self.work_dir, self._resume, self.epoch = str(work_dir), resume, 0


def _epoch(hook, runner, epoch, loss, acc):
    runner.epoch = epoch  # 0-based while the epoch trains
    for value in (loss, loss):
        hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(value)})
    hook.after_train_epoch(runner)
    runner.epoch = epoch + 1  # validation runs after the loop counted the epoch
    hook.after_val_epoch(runner, {'accuracy/top1': acc})


def test_resumed_run_keeps_the_first_epochs(tmp_path):
    first, runner = TrainingCurveHook(), _Runner(tmp_path)
    _epoch(first, runner, 0, 2.0, 50.0)
    _epoch(first, runner, 1, 1.0, 70.0)
    checkpoint = {'meta': {'epoch': 2}}
    first.before_save_checkpoint(runner, checkpoint)
    _epoch(first, runner, 2, 0.9, 71.0)  # epoch 3 runs, then the job is killed

    resumed, runner = TrainingCurveHook(), _Runner(tmp_path, resume=True)
    resumed.after_load_checkpoint(runner, checkpoint)
    _epoch(resumed, runner, 2, 0.5, 90.0)
    assert resumed.history['epoch_loss'] == [(1, 2.0), (2, 1.0), (3, 0.5)]
    assert resumed.history['val']['accuracy/top1'] == [(1, 50.0), (2, 70.0), (3, 90.0)]
    assert (tmp_path / 'curves.png').stat().st_size > 1000

    # loading weights for a new run (load_from, not --resume) starts new curves
    fresh, runner = TrainingCurveHook(), _Runner(tmp_path, resume=False)
    fresh.after_load_checkpoint(runner, checkpoint)
    assert fresh.history['epoch_loss'] == []


def test_graph_losses_and_coco_empty_ranges(tmp_path):
    """MMSegmentation hands back the loss with its graph; COCO's -1 (no large objects) is not
    a score and stays out of the plot."""
    hook, runner = TrainingCurveHook(), _Runner(tmp_path)
    weight = torch.ones((), requires_grad=True)
    hook.after_train_iter(runner, 0, outputs={'loss': weight * 0.5})
    hook.after_train_epoch(runner)
    runner.epoch = 1
    hook.after_val_epoch(runner, {'coco/bbox_mAP': 0.9, 'coco/bbox_mAP_l': -1.0})
    assert hook.history['epoch_loss'] == [(1, 0.5)]
    assert dict(hook.history['val']) == {'coco/bbox_mAP': [(1, 0.9)]}
