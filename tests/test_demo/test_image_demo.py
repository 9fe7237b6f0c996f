"""demo/image_demo.py: a trained digits model classifies the held-out digits through the demo's
code path; the command line prints the top-k and draws the prediction; errors are one line."""
import os.path as osp

import pytest
from PIL import Image

from conftest import ROOT, run_tool
from test_demo._digits_model import digits_model, val_images  # noqa: F401  (fixtures)
from test_tools._helpers import load_tool

DEMO = 'demo/image_demo.py'


@pytest.fixture(scope='module')
def demo():
    return load_tool(DEMO)


@pytest.fixture(scope='module')
def inferencer(demo, digits_model):
    return demo.build_inferencer(digits_model['config'], digits_model['checkpoint'], 'cpu')


def _main_error(demo, capsys, *argv):
    """Run the demo's ``main`` in-process; return its one-line error."""
    with pytest.raises(SystemExit) as exc:
        demo.main(list(argv))
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'Traceback' not in err[0], err
    assert err[0].startswith('image_demo.py: error: '), err
    return err[0]


def test_held_out_digits_are_classified(demo, inferencer, digits_model, val_images):
    paths = [p for p, _ in val_images]
    preds = demo.classify(inferencer, paths, topk=3, batch_size=64)
    assert len(preds) == len(val_images) == 359
    correct = sum(top[0][0] == label for top, (_, label) in zip(preds, val_images))
    accuracy = 100.0 * correct / len(val_images)
    assert accuracy >= 95.0, f'{accuracy:.2f} % of the held-out digits'
    # the demo's path gives the runner's own evaluation of the same checkpoint
    assert accuracy == pytest.approx(digits_model['val_top1'], abs=0.3)
    for top in preds[:20]:
        names, scores = zip(*top)
        assert len(set(names)) == 3 and all(n in '0123456789' for n in names)
        assert list(scores) == sorted(scores, reverse=True) and sum(scores) <= 1.0 + 1e-6


def test_command_line_top_k_and_drawing(tmp_path, inferencer, demo, digits_model, val_images):
    image, label = val_images[5]
    proc = run_tool(DEMO, image, digits_model['config'], '--checkpoint',
                    digits_model['checkpoint'], '--topk', '3', '--show-dir', str(tmp_path / 'vis'),
                    '--device', 'cpu')
    assert proc.returncode == 0, proc.stderr[-3000:]
    # mmpretrain's progress bar ('Inference ━━━ ...') may precede the header on its line
    lines = proc.stdout.strip().splitlines()
    header = f'{image}: top-3 of {digits_model["config"]}'
    lines = lines[[i for i, line in enumerate(lines) if line.endswith(header)][0]:]
    ranks = [line.split() for line in lines[1:4]]
    assert [r[0] for r in ranks] == ['1.', '2.', '3.']
    assert ranks[0][1] == label
    expected = demo.classify(inferencer, [image], topk=3)[0]
    assert [(r[1], float(r[2])) for r in ranks] == [(n, round(s, 4)) for n, s in expected]
    drawn = tmp_path / 'vis' / (osp.splitext(osp.basename(image))[0] + '.png')
    assert lines[4] == f'drawn prediction: {drawn}'
    with Image.open(drawn) as img:  # the 32 px digit is drawn at 224 px, text included
        assert min(img.size) == demo.MIN_DRAW_SIZE
        assert len(set(img.convert('RGB').getdata())) > 2


def test_model_by_name(tmp_path, demo, capsys, digits_model, val_images):
    """A name registered in MMPreTrain's ModelHub resolves to its config and weights."""
    from mmpretrain.apis import ModelHub
    name = 'mmresfam-test-digits-sge-resnet18'
    if name not in ModelHub._models_dict:
        index = tmp_path / 'model-index.yml'
        index.write_text(
            'Models:\n'
            f'  - Name: {name}\n'
            '    Results:\n'
            '      - Task: Image Classification\n'
            '        Dataset: digits\n'
            f'        Metrics: {{Top 1 Accuracy: {digits_model["val_top1"]}}}\n'
            f'    Weights: {digits_model["checkpoint"]}\n'
            f'    Config: {digits_model["config"]}\n')
        ModelHub.register_model_index(str(index))
    image, label = val_images[100]
    demo.main([image, name, '--topk', '2', '--device', 'cpu'])
    lines = capsys.readouterr().out.strip().splitlines()
    header = f'{image}: top-2 of {name}'
    lines = lines[[i for i, line in enumerate(lines) if line.endswith(header)][0]:]
    assert lines[1].split()[:2] == ['1.', label]


def test_missing_image(demo, capsys, digits_model):
    err = _main_error(demo, capsys, 'no/such/digit.png', digits_model['config'])
    assert 'IMAGE not found: no/such/digit.png' in err


def test_non_image_file(demo, capsys, digits_model):
    err = _main_error(demo, capsys, osp.join(ROOT, 'README.md'), digits_model['config'])
    assert 'is not an image file' in err and 'README.md' in err


def test_unknown_model(demo, capsys, val_images):
    err = _main_error(demo, capsys, val_images[0][0], 'resnet50_8xb32_in1kk')
    assert "unknown MODEL 'resnet50_8xb32_in1kk'" in err
    assert 'resnet50_8xb32_in1k' in err  # the close name is suggested
    err = _main_error(demo, capsys, val_images[0][0], 'configs/demo/nope.py')
    assert 'MODEL config file not found: configs/demo/nope.py' in err


def test_checkpoint_that_does_not_fit(demo, capsys, digits_model, val_images):
    # the SGE-ResNet-18 weights into the full-width ResNet-18 digits model
    other = osp.join(ROOT, 'configs', 'demo', 'resnet18_1xb32_digits.py')
    err = _main_error(demo, capsys, val_images[0][0], other, '--checkpoint',
                      digits_model['checkpoint'])
    assert 'does not fit the model' in err
    assert 'unexpected keys' in err and 'shape mismatches' in err
    err = _main_error(demo, capsys, val_images[0][0], other, '--checkpoint', 'no/such.pth')
    assert 'checkpoint not found: no/such.pth' in err


def test_missing_weights_and_bad_arguments(demo, capsys, digits_model, val_images):
    image = val_images[0][0]
    err = _main_error(demo, capsys, image, digits_model['config'])
    assert 'no published weights' in err and '--checkpoint' in err
    ckpt = ['--checkpoint', digits_model['checkpoint']]
    err = _main_error(demo, capsys, image, digits_model['config'], *ckpt, '--topk', '11')
    assert '--topk 11: allowed values are 1..10' in err
    err = _main_error(demo, capsys, image, digits_model['config'], *ckpt, '--device', 'gpu0')
    assert "--device 'gpu0'" in err and "'cpu'" in err
