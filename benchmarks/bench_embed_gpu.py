"""Question: how fast is MiniLM embedding on one GPU (fp16), ours against sentence-transformers' ``encode``,
and how many hours would a 1e7-text pool take? Run through benchmarks/gpu_embed.sh (not in CI).

Texts: joint texts of the bundled pool, repeated with a numeric suffix to reach ``--texts`` (distinct
strings, realistic short lengths). Both contenders get the same texts, fp16 weights and batch size; each
runs twice after a warm-up, best time kept. Writes benchmarks/results/bench_embed_gpu.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=40000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="float16")
    ap.add_argument("--out", default=str(RESULTS / "bench_embed_gpu.md"))
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from duelbandit.data.textpool import make_text_pool
    from duelbandit.embed.encoder import TextEncoder
    from duelbandit.embed.recipes import recipe_texts

    base = recipe_texts(make_text_pool(300, seed=0), "joint")
    texts = [f"{base[k % len(base)]} ({k})" for k in range(args.texts)]
    enc = TextEncoder("minilm", device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    st = SentenceTransformer(str(enc.path), device=args.device,
                             model_kwargs={"torch_dtype": getattr(torch, args.dtype)})

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    runs = {"ours": lambda: enc.encode(texts),
            "sentence-transformers": lambda: st.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)}
    enc.encode(texts[:2048])  # warm-up: kernels, allocator
    st.encode(texts[:2048], batch_size=args.batch_size)
    best, vecs = {}, {}
    for _ in range(2):
        for name, fn in runs.items():
            sync()
            t0 = time.perf_counter()
            vecs[name] = fn()
            sync()
            dt = time.perf_counter() - t0
            best[name] = min(best.get(name, np.inf), dt)
    a, b = vecs["ours"].astype(np.float64), vecs["sentence-transformers"].astype(np.float64)
    agree = float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())
    n = len(texts)
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else args.device
    lines = ["# MiniLM embedding on one GPU", "",
             f"{n} short texts, {args.dtype}, batch {args.batch_size}, device {gpu}; best of 2 after a warm-up.", "",
             "| method | texts/s | seconds | ratio vs s-t | hours for 1e7 texts |", "|:---|---:|---:|---:|---:|"]
    for name, dt in best.items():
        rate = n / dt
        lines.append(f"| {name} | {rate:,.0f} | {dt:.2f} | {best['sentence-transformers'] / dt:.2f}x | "
                     f"{1e7 / rate / 3600:.2f} |")
    lines += ["", f"min cosine(ours, sentence-transformers) = {agree:.6f} (both fp16).",
              f"torch {torch.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
