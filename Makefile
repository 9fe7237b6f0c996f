# mmresfam: the two commands of the README.
#   make demo  - set up .venv, prepare the digits data, train + evaluate the demo, print val top-1
#   make demo-det - the same for detection: Faster R-CNN on the generated shapes, prints bbox mAP
#   make demo-seg - the same for segmentation: FCN on the generated shapes, prints mIoU
#   make test  - set up .venv and run the test suite
PY := .venv/bin/python
DEMO_CONFIG ?= configs/demo/resnet18_1xb32_digits.py
DEMO_DET_CONFIG ?= configs/demo/faster-rcnn_resnet18_fpn_1xb8-4e_shapes.py
DEMO_SEG_CONFIG ?= configs/demo/fcn_resnet18-d8_1xb8-3e_shapes.py
PYTEST_ARGS ?=

.PHONY: setup demo demo-det demo-seg test

setup:
	bash tools/setup_env.sh

demo: setup
	$(PY) tools/run_demo.py $(DEMO_CONFIG)

demo-det: setup
	$(PY) tools/run_demo.py $(DEMO_DET_CONFIG)

demo-seg: setup
	$(PY) tools/run_demo.py $(DEMO_SEG_CONFIG)

test: setup
	$(PY) -m pytest -n 2 --dist loadfile -q -p no:cacheprovider $(PYTEST_ARGS) tests
