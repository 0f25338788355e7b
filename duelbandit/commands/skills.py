"""``duelbandit skills``: discover skill clusters among a pool's prompts and write the pool back with them.

    duelbandit skills --pool P --k K --out P2.jsonl [--embedder minilm|hashing|PATH] [--method kmeans]

Prompts are embedded (the transformer encoder, or hashed tf-idf + SVD), clustered with seeded k-means,
and each cluster is named by its most distinctive terms (class-based tf-idf); see
:mod:`duelbandit.embed.skills`. P2.jsonl is the pool with a ``skill`` per prompt, which ``two_stage`` and
``randql_allocator`` read. When the input pool already has skills (the bundled pool does), the cluster
purity against them is printed.
"""

from __future__ import annotations

import argparse

import numpy as np

from duelbandit.commands.embed import add_feature_arguments, make_embedder
from duelbandit.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True, help="pool file (.jsonl/.csv) or bundled[:N]")
    p.add_argument("--k", type=int, required=True, help="number of skill clusters")
    p.add_argument("--out", required=True, help="the pool with a skill per prompt (.jsonl or .csv)")
    p.add_argument("--method", default="kmeans", choices=["kmeans", "minibatch"],
                   help="kmeans (default) or minibatch (MiniBatchKMeans, for large pools)")
    p.add_argument("--terms", type=int, default=3, help="terms per cluster name (default 3)")
    p.add_argument("--seed", type=int, default=0, help="k-means seed (default 0)")
    p.add_argument("--skip-bad", action="store_true", help="skip malformed prompts with a warning")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_feature_arguments(p, default_embedder="auto")


def run(args: argparse.Namespace) -> int:
    from duelbandit.embed.skills import discover_skills, purity, with_skills
    from duelbandit.io import open_pool, save_pool

    if args.features:
        raise ConfigError("--features: skills embeds the prompts themselves; use --embedder")
    if args.k < 1:
        raise ConfigError(f"--k: expected an integer >= 1, got {args.k}")
    if args.terms < 1:
        raise ConfigError(f"--terms: expected an integer >= 1, got {args.terms}")
    pool = open_pool(args.pool, on_error="skip" if args.skip_bad else "raise")
    if args.k > pool.n_prompts:
        raise ConfigError(f"--k: {args.k} clusters for {pool.n_prompts} prompts; expected k <= the prompt count")
    emb = make_embedder(args, args.seed, verbose=not args.quiet)
    prompts = list(pool.prompts)
    V = emb.embed_texts(prompts) if hasattr(emb, "embed_texts") else emb.encode_texts(prompts)
    res = discover_skills(prompts, V, args.k, seed=args.seed, method=args.method, n_terms=args.terms)
    path = save_pool(with_skills(pool, res.skills()), args.out)
    lines = [f"{args.k} skill clusters of {pool.n_prompts} prompts ({emb.name}); wrote {path}"]
    true = pool.skills
    for j in np.argsort(-res.sizes, kind="stable"):
        extra = ""
        if true is not None:
            members = [true[n] for n in np.flatnonzero(res.labels == j)]
            top = max(set(members), key=members.count) if members else "-"
            extra = f"  (mostly {top}: {members.count(top)}/{len(members)})" if members else ""
        lines.append(f"  {res.names[j]:40s} {int(res.sizes[j]):6d} prompts{extra}")
    if true is not None:
        from sklearn.metrics import normalized_mutual_info_score

        lines.append(f"purity against the pool's own skills: {purity(list(true), res.labels):.3f} "
                     f"(NMI {normalized_mutual_info_score(list(true), res.labels):.3f})")
    print("\n".join(lines))
    return 0
