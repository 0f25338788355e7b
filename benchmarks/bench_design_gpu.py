"""Is a certified D-optimal design on 1e7 candidate pairs (d = 128) a matter of seconds on one GPU?

One question, one run: time of ``optimal_design(X, pairs=(i, j), method="auto", backend="torch",
device=...)`` to D-efficiency >= 0.999 on the within-prompt pairs of an anisotropic synthetic pool
generated on the device (K responses per prompt, L = N K (K - 1) / 2 pairs, features never leave the
device), against the floor: one bare float32 leverage pass over the materialised (L, d) differences
(one (L x d)(d x d) product and a row reduction, TF32 off) and one pair-shared pass. The certificate of
the design is exact (float32 passes, float64 re-check of the candidates that could hold the maximum).

Usage (see benchmarks/gpu_design.sh, which wraps it for one short device call):

    python benchmarks/bench_design_gpu.py --device cuda               # L = 1e7, d = 128
    python benchmarks/bench_design_gpu.py --device cpu --L 2e5 --d 32 # smoke run on a CPU
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from duelbandit.design import optimal_design
from duelbandit.design.backends import make_candidate_set

EPS = 1.0 / 0.999 - 1.0


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_pool(L: int, d: int, K: int, device: torch.device, seed: int):
    """Anisotropic features (decaying spectrum, prompt centres + within-prompt spread, 40% near-duplicates)
    and all within-prompt pairs, generated on the device."""
    gen = torch.Generator(device=device).manual_seed(seed)  # a local generator: no global seeding
    per = K * (K - 1) // 2
    N = -(-L // per)
    R = N * K
    scale = torch.arange(1, d + 1, device=device, dtype=torch.float32) ** -0.75
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, device=device))

    def draw(n: int) -> torch.Tensor:
        return (torch.randn(n, d, generator=gen, device=device) * scale) @ Q.T

    centres = 0.25 * draw(N)
    X = centres.repeat_interleave(K, dim=0) + draw(R)
    dup = (torch.rand(R, generator=gen, device=device) < 0.4) & (torch.arange(R, device=device) % K > 0)
    X[dup] = X[torch.nonzero(dup).squeeze(1) - 1] + 0.02 * draw(int(dup.sum()))
    X /= X.norm(dim=1).quantile(0.95) if R <= 2**24 else X[:2**24].norm(dim=1).quantile(0.95)
    a, b = torch.triu_indices(K, K, 1, device=device)
    off = torch.arange(N, device=device) * K
    i = (off[:, None] + a[None, :]).reshape(-1)[:L]
    j = (off[:, None] + b[None, :]).reshape(-1)[:L]
    return X, i, j


def timed(fn, device: torch.device, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return float(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--L", type=float, default=1e7)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--K", type=int, default=5, help="responses per prompt")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA requested but torch.cuda.is_available() is False (a CPU build of torch?)")
    torch.backends.cuda.matmul.allow_tf32 = False  # the float32 error bound assumes IEEE float32 products
    L, d = int(args.L), args.d

    t0 = time.perf_counter()
    X, i, j = make_pool(L, d, args.K, device, args.seed)
    sync(device)
    gen_s = time.perf_counter() - t0
    print(f"pool: L={L:,} pairs, R={X.shape[0]:,} responses, d={d}, generated in {gen_s:.1f} s", flush=True)

    # warm-up on a small slice: CUDA context, cuBLAS handles and kernels are not the solver's cost
    optimal_design(X[:5000], pairs=(i[:9000], j[:9000]), method="auto", backend="torch", device=device)

    # the floor: one float32 pass over the materialised (L, d) differences, in blocks that fit
    W = torch.linalg.cholesky(torch.eye(d, device=device))
    chunk = 1 << 21

    def dense_pass() -> None:
        for s in range(0, L, chunk):
            Bc = X.index_select(0, i[s : s + chunk]) - X.index_select(0, j[s : s + chunk])
            Y = Bc @ W
            (Y * Y).sum(1)

    def dense_pass_pre(B: torch.Tensor) -> None:
        for s in range(0, L, chunk):
            Y = B[s : s + chunk] @ W
            (Y * Y).sum(1)

    floor_gather = timed(dense_pass, device)
    try:
        B_full = X.index_select(0, i) - X.index_select(0, j)
        floor = timed(lambda: dense_pass_pre(B_full), device)
        B_full = None  # free the (L, d) copy before the design runs
    except torch.OutOfMemoryError:
        floor = float("nan")
    cset = make_candidate_set(X, (i.cpu().numpy(), j.cpu().numpy()), backend="torch", device=device)
    eye = np.eye(d)
    pair_pass = timed(lambda: cset.leverage_pass(eye), device)
    cset = None
    print(f"floor (float32 (L x d)(d x d) pass on materialised B): {floor:.3f} s; with the gather: "
          f"{floor_gather:.3f} s; pair-shared pass incl. host copy of g: {pair_pass:.3f} s", flush=True)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t = time.perf_counter()
    design = optimal_design(X, pairs=(i, j), method="auto", backend="torch", device=device, eps=EPS)
    sync(device)
    total = time.perf_counter() - t
    c = design.certificate
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    work = {k: design.info.get(k) for k in ("passes", "rounds", "newton", "working_set", "deleted")}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    rows = [
        "| device | L | d | R | auto time | x floor | x pair pass | eff | support | work | peak device memory |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        (f"| {name} | {L:.0e} | {d} | {X.shape[0]:.1e} | {total:.2f} s | {total / floor:.1f} | "
        f"{total / pair_pass:.1f} | {c.efficiency_lower_bound:.5f} | {c.support_size} | {work} | "
        f"{peak:.1f} GiB |"),
    ]
    print("\n".join(rows), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    text = "\n".join([
        "# Design engine on a GPU: certified D-optimal design on L pairs",
        "",
        (f"Generated by `python benchmarks/bench_design_gpu.py --device {args.device} --L {args.L:g} --d {d}` "
        f"(torch {torch.__version__}, seed {args.seed}, eps = 1/0.999 - 1, K = {args.K} responses per prompt, "
        "features generated on the device). `floor`: best of 3 float32 passes (L x d)(d x d) on the "
        f"materialised differences ({floor:.3f} s; {floor_gather:.3f} s including the gather that builds "
        f"them); `pair pass`: one pair-shared pass with the host copy of g ({pair_pass:.3f} s). The timed "
        "call includes validation, span, screening, Newton, deletion and the exact certificate; a warm-up "
        "on 9000 pairs ran first (CUDA context)."),
        "",
        *rows,
        "",
    ])
    (args.out / "bench_design_gpu.md").write_text(text)
    print(f"wrote {args.out / 'bench_design_gpu.md'}")


if __name__ == "__main__":
    main()
