#!/usr/bin/env bash
# One-command environment for mmresfam: creates .venv at the repository root and installs the
# pinned, verified stack (torch 2.14.1 / torchvision 0.29.1, mmcv 2.1.0 built with ops,
# mmengine, mmpretrain, mmdet, mmseg, test tools) plus mmresfam in editable mode.
# Idempotent: a second run with nothing changed returns in seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3.11}"
VENV="$ROOT/.venv"
TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"
MMCV_VERSION="2.1.0"
CACHE="${MMRESFAM_CACHE:-$HOME/.cache/mmresfam}"
# The stamp covers everything that decides what gets installed.
STAMP_SRC="$(cat requirements/*.txt tools/setup_env.sh setup.py pyproject.toml; echo "$TORCH_SPEC $MMCV_VERSION")"
STAMP_HASH="$(printf '%s' "$STAMP_SRC" | sha256sum | cut -c1-16)"
STAMP="$VENV/.mmresfam-env-$STAMP_HASH"

if [ -f "$STAMP" ]; then
  echo "[setup_env] environment up to date ($VENV)"
  exit 0
fi

t0=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup_env] creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip install -q --disable-pip-version-check)
# setuptools is pinned (requirements/pinned.txt) before anything else and never moved again:
# torch 2.14 requires >= 77.0.3, and mmcv 2.1.0's setup.py, mmpretrain's tools and mim import
# pkg_resources, which setuptools 81 removed.
"${PIP[@]}" --upgrade "pip<25" wheel ninja setuptools -c requirements/pinned.txt
echo "[setup_env] torch"
"${PIP[@]}" $TORCH_SPEC
TORCH_VER="$("$VPY" -c 'import torch; print(torch.__version__.split("+")[0])')"

# mmcv with ops, built once per (mmcv, torch, python) and cached as a wheel. pip's own cache keys
# the wheel by mmcv's version only, so we keep our own keyed by the torch it was built against.
WHEELDIR="$CACHE/mmcv-$MMCV_VERSION-torch$TORCH_VER-py311"
if ! ls "$WHEELDIR"/mmcv-*.whl >/dev/null 2>&1; then
  echo "[setup_env] building mmcv $MMCV_VERSION with ops against torch $TORCH_VER (about 15 min on 2 cores)"
  rm -rf "$WHEELDIR.tmp"; mkdir -p "$WHEELDIR.tmp/src"
  "${PIP[@]}" "numpy==1.26.4" "opencv-python==4.10.0.84" addict packaging "Pillow" pyyaml yapf
  "$VPY" -m pip download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$WHEELDIR.tmp/src"
  tar xzf "$WHEELDIR.tmp/src/mmcv-$MMCV_VERSION.tar.gz" -C "$WHEELDIR.tmp/src"
  # torch >= 2.10 headers need C++20; mmcv 2.1.0's setup.py asks for C++17 on every torch > 1.12.
  sed -i "s/'-std=c++17'\]/'-std=c++20']/" "$WHEELDIR.tmp/src/mmcv-$MMCV_VERSION/setup.py"
  (cd "$WHEELDIR.tmp/src/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="$(nproc)" \
    "$VPY" -m pip wheel -q --no-build-isolation --no-deps --no-cache-dir . -w "$WHEELDIR.tmp")
  rm -rf "$WHEELDIR.tmp/src"
  rm -rf "$WHEELDIR"; mv "$WHEELDIR.tmp" "$WHEELDIR"
fi
echo "[setup_env] mmcv + OpenMMLab stack"
# torch/torchvision are named again so that no dependency can move them off the pinned build.
"${PIP[@]}" "$WHEELDIR"/mmcv-*.whl $TORCH_SPEC -r requirements/pinned.txt
# openmim without its dependency opendatalab -> openxlab, which pins setuptools 60 and
# requests 2.28 (against torch's setuptools >= 77); mim's own dependencies are in pinned.txt.
"${PIP[@]}" --no-deps -r requirements/mim.txt
# PEP 660 editable install through pyproject.toml's backend (no legacy `setup.py develop`).
"${PIP[@]}" --no-deps --no-build-isolation -e .
"$VPY" - <<'PY'
import torch, mmcv, mmengine, mmpretrain, mmdet, mmseg
from mmcv.ops import nms, RoIAlign  # noqa: F401  (fails if mmcv was built without ops)
import mmseg.models  # noqa: F401  (needs ftfy/regex)
import mim, pytorch_grad_cam  # noqa: F401  (mim train/search; mmpretrain's vis_cam)
import mmresfam
print(f'[setup_env] torch {torch.__version__}, mmcv {mmcv.__version__} (ops ok), '
      f'mmengine {mmengine.__version__}, mmpretrain {mmpretrain.__version__}, '
      f'mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, mmresfam {mmresfam.__version__}')
PY
rm -f "$VENV"/.mmresfam-env-*
touch "$STAMP"
echo "[setup_env] done in $(( $(date +%s) - t0 )) s"
