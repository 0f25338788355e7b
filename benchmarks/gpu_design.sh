#!/usr/bin/env bash
# One short device call: certified D-optimal design on L = 1e7 candidate pairs, d = 128, one GPU.
# Self-contained: installs nothing; needs a Python with a CUDA build of torch plus numpy and scipy
# (PYTHON=... to choose it; default .venv/bin/python if it has CUDA, else python3). Prints a table and
# writes benchmarks/results/bench_design_gpu.md; exits within ~5 minutes (hard timeout 280 s).
# Extra arguments go to the script, e.g.  benchmarks/gpu_design.sh --L 2e6 --d 64
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  if [ -x .venv/bin/python ] && .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    PYTHON=.venv/bin/python
  fi
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available"
"$PYTHON" -c "import torch, numpy, scipy; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
timeout 280 "$PYTHON" benchmarks/bench_design_gpu.py --device cuda "$@"
