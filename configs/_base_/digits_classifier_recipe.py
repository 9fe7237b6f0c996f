# The digits-demo recipe for an mmresfam classifier: linear classifier over 10 classes, the
# digits data (32 images a batch), the 8-epoch CPU schedule and the demo runtime (curves and
# best checkpoint). Each demo config adds `model.backbone`.
_base_ = [
    './models/digits_classifier.py',
    './datasets/digits_bs32.py',
    './schedules/digits.py',
    './digits_runtime.py',
]
