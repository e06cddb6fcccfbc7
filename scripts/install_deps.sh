#!/usr/bin/env bash
# Installs everything building and testing errseg needs on Debian 12 (run as root).
# Build: cmake, ninja, g++, Eigen, stb, doctest, Google Benchmark.
# Dataset preparation (tools/prepare_datasets.py) and its tests: PIL, pytest, SciPy (PC-459 .mat
# files) and OpenCV (ADE-847's resize), as the authors' preparation scripts use them.
# Reference checks: Debian's torch (with OpenBLAS) + open_clip/timm from PyPI, pinned to
# versions that run on Debian's torch 1.13 (installed without dependencies so pip never
# replaces Debian's torch or numpy).
# Benchmarks: ONNX Runtime from PyPI (numpy pinned like the rest).
# Python package (pip install .) and its tests: nanobind + scikit-build-core (the build), pytest,
# Ray Data (errseg.ray_segment), pinned against Debian's numpy: pip must not replace it (torch is
# built against it), hence pyarrow < 23 (newer ones need numpy 2).
# Usage: scripts/install_deps.sh [--runtime]   (--runtime: only what building and running the
# CLI needs — compiler, Eigen, stb, numpy for the converter — no torch).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
RUNTIME_ONLY=0; [ "${1:-}" = "--runtime" ] && RUNTIME_ONLY=1
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
if [ "$RUNTIME_ONLY" = 1 ]; then
  $SUDO apt-get install -y -q --no-install-recommends cmake ninja-build g++ libeigen3-dev libstb-dev python3 python3-numpy \
    python3-pip python3-dev python3-venv  # pip install . (the Python package)
  exit 0
fi
$SUDO apt-get install -y -q --no-install-recommends \
  cmake ninja-build g++ make pkg-config \
  libeigen3-dev libstb-dev doctest-dev libbenchmark-dev \
  python3 python3-pip python3-dev python3-venv python3-pytest python3-numpy python3-torch python3-torchvision python3-regex \
  python3-tqdm python3-yaml libopenblas0-pthread \
  python3-pil python3-pytest python3-scipy python3-opencv \
  clang libclang-rt-14-dev
PIP="/usr/bin/python3 -m pip install -q --break-system-packages --disable-pip-version-check"
$PIP --no-deps "open_clip_torch==2.24.0" "timm==0.9.16"
$PIP "ftfy==6.3.1" "huggingface_hub<1.0" "safetensors<0.6"
NUMPY_PIN="$(mktemp)"; /usr/bin/python3 -c 'import numpy; print("numpy==" + numpy.__version__)' > "$NUMPY_PIN"
$PIP -c "$NUMPY_PIN" "nanobind>=2.0" "scikit-build-core>=0.10" "ray[data]>=2.40" "pyarrow<23"
# ONNX Runtime: the benchmarks' third engine (bench/run_cpu_bench.py, bench/ort_whole_graph.py) and
# the whole-graph export test (tests/python/test_ort_whole_graph.py); numpy pinned as above.
$PIP -c "$NUMPY_PIN" "onnxruntime>=1.20,<2"
rm -f "$NUMPY_PIN"
# pycocotools: the reference for `segment --format sem-seg`'s COCO RLE (tests/cli/test_segment_outputs.sh).
$PIP --no-deps "pycocotools==2.0.11"
# Versions through package metadata (open_clip 2.24 has no __version__ attribute).
/usr/bin/python3 - <<'PY'
import importlib.metadata as md
import torch, numpy, open_clip, timm, ftfy, nanobind, ray.data, pytest, onnxruntime  # noqa: F401  (fail here if any is missing)
print("python reference stack: torch", torch.__version__, "numpy", numpy.__version__,
      "open_clip", md.version("open_clip_torch"), "timm", md.version("timm"),
      "nanobind", nanobind.__version__, "ray", md.version("ray"), "onnxruntime", onnxruntime.__version__)
PY
