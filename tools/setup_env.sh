#!/usr/bin/env bash
# One-command environment for mmresfam: creates .venv at the repository root and installs the
# pinned, verified stack (torch 2.14.1 / torchvision 0.29.1, mmcv 2.1.0 built with ops for CUDA
# or the CPU, see tools/mmcv_build_env.py,
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
STAMP_SRC="$(cat requirements/*.txt tools/setup_env.sh tools/mmcv_build_env.py setup.py pyproject.toml; echo "$TORCH_SPEC $MMCV_VERSION")"
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

# mmcv with ops, built once per (mmcv, torch, CUDA ops or not, python) and cached as a wheel.
# tools/mmcv_build_env.py picks CUDA ops when torch has CUDA, a matching nvcc is installed and a
# GPU is visible (or TORCH_CUDA_ARCH_LIST names the architectures), CPU ops otherwise; it
# prints the cache key, so a CPU-ops and a CUDA-ops wheel never share an entry. pip's own cache
# keys the wheel by mmcv's version only, hence this one.
MMCV_CHOICE="$("$VPY" tools/mmcv_build_env.py --mmcv-version "$MMCV_VERSION")"
eval "$MMCV_CHOICE"
echo "[setup_env] $MMCV_BUILD_NOTE"
WHEELDIR="$CACHE/$MMCV_CACHE_KEY"
if ! ls "$WHEELDIR"/mmcv-*.whl >/dev/null 2>&1; then
  if [ "$MMCV_BUILD" = cuda ]; then
    echo "[setup_env] building mmcv $MMCV_VERSION with CUDA ops against torch $TORCH_VER (longer than the CPU build; not timed here)"
  else
    echo "[setup_env] building mmcv $MMCV_VERSION with CPU ops against torch $TORCH_VER (about 15 min on 2 cores)"
  fi
  rm -rf "$WHEELDIR.tmp"; mkdir -p "$WHEELDIR.tmp/src"
  "${PIP[@]}" "numpy==1.26.4" "opencv-python==4.10.0.84" addict packaging "Pillow" pyyaml yapf
  "$VPY" -m pip download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$WHEELDIR.tmp/src"
  tar xzf "$WHEELDIR.tmp/src/mmcv-$MMCV_VERSION.tar.gz" -C "$WHEELDIR.tmp/src"
  # torch >= 2.10 headers need C++20; mmcv 2.1.0's setup.py asks for C++17 (host and nvcc) on
  # every torch > 1.12.
  sed -i "s/'-std=c++17'\]/'-std=c++20']/" "$WHEELDIR.tmp/src/mmcv-$MMCV_VERSION/setup.py"
  (cd "$WHEELDIR.tmp/src/mmcv-$MMCV_VERSION" && env "${MMCV_BUILD_ENV[@]}" MAX_JOBS="$(nproc)" \
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
