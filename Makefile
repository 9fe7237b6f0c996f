# mmresfam: the two commands of the README.
#   make demo  - set up .venv, prepare the digits data, train + evaluate the demo, print val top-1
#   make test  - set up .venv and run the test suite
PY := .venv/bin/python
DEMO_CONFIG ?= configs/demo/resnet18_1xb32_digits.py
PYTEST_ARGS ?=

.PHONY: setup demo test

setup:
	bash tools/setup_env.sh

demo: setup
	$(PY) tools/run_demo.py $(DEMO_CONFIG)

test: setup
	$(PY) -m pytest -n 2 --dist loadfile -q -p no:cacheprovider $(PYTEST_ARGS) tests
