"""``duelbandit embed``: features of a pool to ``F.npy`` (+ ``F.npy.json``), or Ray feature shards.

    duelbandit embed --pool P --embedder hashing|minilm|PATH [--mode M] [--dim D] --out F.npy
    duelbandit embed --engine ray --pool SHARDS_DIR --embedder minilm --out FEATURES_DIR

One row per response, in pool order; the JSON beside it records the whole recipe (``Features.config``),
so ``--features F.npy`` on ``select`` / ``collect`` / ``demo`` reuses the exact features, and
``duelbandit.embed.embedder_from_config`` rebuilds the embedder. This module also owns the feature
options shared by those commands (:func:`add_feature_arguments`, :func:`features_from_args`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from duelbandit.errors import ConfigError
from duelbandit.pool import Features, Pool

HASHING_MODES = ("joint", "concat")
TRANSFORMER_MODES = ("joint", "response", "interaction")


def add_feature_arguments(p: argparse.ArgumentParser, *, default_embedder: str = "hashing") -> None:
    """``--embedder``, ``--features``, ``--mode``, ``--dim``, ``--cache``, ``--no-cache``, ``--device``."""
    g = p.add_argument_group("features")
    g.add_argument("--embedder", default=None,
                   help=f"hashing, minilm (all-MiniLM-L6-v2, offline), or a sentence-encoder folder "
                        f"(default: {default_embedder})")
    g.add_argument("--features", default=None,
                   help="precomputed features: F.npy from `duelbandit embed` (or its Ray shard folder)")
    g.add_argument("--mode", default=None,
                   help="pair recipe: hashing joint|concat; transformer joint|response|interaction (default joint)")
    g.add_argument("--dim", type=int, default=None,
                   help="feature dimension: hashing SVD size (default 32); transformer PCA size (default: "
                        "none, the full width)")
    g.add_argument("--cache", default=None,
                   help="vector cache folder (default: the user cache dir, $XDG_CACHE_HOME/duelbandit)")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the vector cache")
    g.add_argument("--device", default="auto", help="transformer device: auto (cuda, mps, cpu), cpu, cuda, ...")
    p.set_defaults(_default_embedder=default_embedder)


def resolve_embedder_name(args: argparse.Namespace) -> str:
    """The embedder the options ask for; ``auto`` = minilm when the embed extra is installed, else hashing."""
    name = args.embedder or args._default_embedder
    if name == "auto":
        from duelbandit.embed.transformer import default_model_available

        name = "minilm" if default_model_available() else "hashing"
    return name


def make_embedder(args: argparse.Namespace, seed: int, *, verbose: bool = True):
    """The embedder of the command-line options (not used when ``--features`` is given)."""
    from duelbandit.embed import HashingEmbedder, TransformerEmbedder

    name = resolve_embedder_name(args)
    if args.dim is not None and args.dim < 1:
        raise ConfigError(f"--dim: expected an integer >= 1, got {args.dim}")
    if name == "hashing":
        mode = args.mode or "joint"
        if mode not in HASHING_MODES:
            raise ConfigError(f"--mode: the hashing embedder has modes {list(HASHING_MODES)}, got {mode!r}")
        return HashingEmbedder(dim=args.dim or 32, mode=mode, seed=seed)
    mode = args.mode or "joint"
    if mode not in TRANSFORMER_MODES:
        raise ConfigError(f"--mode: the transformer embedder has modes {list(TRANSFORMER_MODES)}, got {mode!r}")
    cache = None if args.no_cache else (args.cache or "default")
    return TransformerEmbedder(name, mode=mode, dim=args.dim, seed=seed, device=args.device, cache=cache,
                               verbose=verbose)


def features_from_args(args: argparse.Namespace, pool: Pool, seed: int, *, verbose: bool = True) -> Features:
    """``--features`` loaded and checked against ``pool``, or the pool embedded as the options say."""
    if args.features:
        if args.embedder or args.mode or args.dim is not None:
            raise ConfigError("--features: the features file already fixes the embedder, mode and dim; drop "
                              "--embedder / --mode / --dim, or drop --features to embed again")
        from duelbandit.embed.files import load_features

        return load_features(args.features, pool)
    return make_embedder(args, seed, verbose=verbose).embed(pool)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True,
                   help="pool file (.jsonl/.csv) or bundled[:N]; with --engine ray: Parquet/JSONL shards "
                        "(a folder, a glob or a file; one row per prompt)")
    p.add_argument("--out", required=True, help="F.npy (local engine) or an output folder (ray)")
    p.add_argument("--seed", type=int, default=0, help="seed of the SVD / PCA (default 0)")
    p.add_argument("--engine", default="local", choices=["local", "ray"], help="local (default) or ray")
    p.add_argument("--ray-address", default=None, help="ray: address of a running cluster (default: start one)")
    p.add_argument("--ray-cpus", type=int, default=None, help="ray: CPUs of a locally started Ray")
    p.add_argument("--skip-bad", action="store_true", help="skip malformed prompts with a warning")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_feature_arguments(p)
    p.set_defaults(features=None)


def run(args: argparse.Namespace) -> int:
    if args.features:
        raise ConfigError("--features: `embed` makes features; it does not read them")
    verbose = not args.quiet
    if args.engine == "ray":
        return _run_ray(args, verbose)
    from duelbandit.embed.files import save_features
    from duelbandit.io import open_pool

    pool = open_pool(args.pool, on_error="skip" if args.skip_bad else "raise")
    emb = make_embedder(args, args.seed, verbose=verbose)
    feats = emb.embed(pool)
    path = save_features(feats, args.out)
    stats = getattr(emb, "last_stats", None)
    line = (f"wrote {feats.X.shape[0]} x {feats.dim} features ({feats.name}, mode {feats.config.get('mode')}) "
            f"to {path} and {path}.json")
    if stats is not None:
        line += (f"\ntexts: {stats['distinct']} distinct, {stats['hits']} from the cache, "
                 f"{stats['encoded']} encoded")
    print(line)
    return 0


def _run_ray(args: argparse.Namespace, verbose: bool) -> int:
    from duelbandit.embed.transformer import TransformerEmbedder

    emb = make_embedder(args, args.seed, verbose=False)
    if not isinstance(emb, TransformerEmbedder):
        raise ConfigError("--engine ray: runs transformer embedders (minilm or a model folder); the hashing "
                          "embedder fits tf-idf on the whole pool and runs locally")
    import ray

    if args.ray_address or args.ray_cpus:
        ray.init(address=args.ray_address, num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
    from duelbandit.embed.scale import embed_with_ray

    try:
        manifest = embed_with_ray(args.pool, args.out, emb, verbose=verbose)
    finally:
        ray.shutdown()
    print(f"wrote feature shards and {manifest}; use them with --features {Path(args.out)}")
    return 0
