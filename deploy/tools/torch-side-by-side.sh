#!/usr/bin/env bash
# Runs Oni's policy network and the same network in PyTorch on the same inputs (largest output
# differences printed) and times both (CPU, one thread each), printing the ratios. With a
# checkpoint (grid or NetHack, crop included) that network is the one compared and timed:
#   bash deploy/tools/torch-side-by-side.sh [--checkpoint RUN_DIR/checkpoints/policy.safetensors]
# Tools only: PyTorch goes into a venv (ONI_TORCH_VENV, default
# ~/.cache/oni/torch-venv). PyPI's Linux wheel pulls the CUDA runtime
# packages too (several GB) even though only the CPU is used here.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${ONI_TORCH_VENV:-$HOME/.cache/oni/torch-venv}
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c "import torch, safetensors" 2>/dev/null; then
  echo "installing PyTorch into $venv (large download)..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch safetensors numpy
fi
cd "$root"
swift build -c release --product oni >&2
"$venv/bin/python" deploy/tools/torch_side_by_side.py --oni .build/release/oni "$@"
