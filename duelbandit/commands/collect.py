"""``duelbandit collect``: rounds of select -> label -> fit, crash-safe; rerun the same command to resume.

Annotators (``--annotator``):

- ``simulated-bt``: Bradley–Terry labels y ~ Bernoulli(sigma(<theta*, psi_i - psi_j>)). theta* is, on the
  bundled pool, the best linear fit of the judge on these features (the pool's well-specified twin, as
  in ``duelbandit demo``); on your own pool (or with ``--theta-seed K``) a random direction of norm
  ``--theta-norm`` drawn from seed K (default: ``--seed``). On your own pool this is a dry run of the
  loop's mechanics, not a statement about your data.
- ``judge``: the bundled pool's transparent judge (duelbandit.data.judge), BT labels with temperature
  ``--judge-temperature``. It can only score prompts of the bundled pool's templates; any other pool is
  refused.
- ``file:LABELS``: human labels from a file (JSONL/CSV with pair_id and winner a/b/tie, a Label Studio
  export, Argilla records; see ``duelbandit ingest``). When a round asks for a pair the file has no
  (more) label for, the run pauses: the tasks go to STATE/pending.jsonl, the command exits with code 3,
  and rerunning it after the labels are added resumes the same round.

Output in ``--state DIR``: labels.jsonl (the label log) and checkpoint.json (see duelbandit.select.loop).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from duelbandit.annotate import FileAnnotator, JudgeAnnotator, Labels, SimulatedBT
from duelbandit.commands._common import (
    COLLECT_BYTES_PER_LABEL,
    add_csv_argument,
    add_memory_argument,
    check_memory,
    memory_limit,
)
from duelbandit.commands.embed import add_feature_arguments, features_from_args
from duelbandit.errors import ConfigError, RewardError
from duelbandit.io import open_pool
from duelbandit.io.human import read_human_labels
from duelbandit.regret import greedy_policy, simple_regret
from duelbandit.select import OFFLINE, PLANNED, SELECTORS, SelectionState, make_selector
from duelbandit.select.diagnose import report_misspecification
from duelbandit.select.loop import PENDING_FILE, collect

EXIT_PENDING = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True,
                   help="pool file (.jsonl/.csv/.parquet, a saved HF dataset folder), or 'bundled' / 'bundled:N' "
                        "for the bundled text pool")
    p.add_argument("--selector", default="robust", choices=sorted(SELECTORS),
                   help="default: robust (safe under misspecification; odpo is the paper's design)")
    p.add_argument("--budget", type=int, required=True, help="total number of labels T")
    p.add_argument("--batch-size", type=int, default=None,
                   help="labels per round m (default: T for uniform/odpo, else ceil(T/10))")
    p.add_argument("--annotator", default="simulated-bt",
                   help="simulated-bt (default), judge, or file:LABELS for human labels")
    p.add_argument("--seed", type=int, default=0, help="seed of features, selection and simulated labels")
    p.add_argument("--state", required=True, help="state folder (labels.jsonl, checkpoint.json)")
    p.add_argument("--theta-seed", type=int, default=None, help="simulated-bt: draw a random theta* from this seed")
    p.add_argument("--theta-norm", type=float, default=1.0, help="simulated-bt: ||theta*|| of a random theta*")
    p.add_argument("--judge-temperature", type=float, default=1.0,
                   help="judge: P(a preferred) = sigma((r_a - r_b) / temperature); 0 = deterministic")
    p.add_argument("--skip-bad", action="store_true", help="skip malformed prompts with a warning")
    add_memory_argument(p)
    add_csv_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_feature_arguments(p)


def _is_bundled(spec: str) -> bool:
    return spec == "bundled" or spec.startswith("bundled:")


def run(args: argparse.Namespace) -> int:
    if args.budget < 1:
        raise ConfigError(f"--budget: expected an integer >= 1, got {args.budget}")
    batch = args.batch_size
    if batch is None:
        batch = args.budget if args.selector in OFFLINE else max(1, math.ceil(args.budget / 10))
    if batch < 1:
        raise ConfigError(f"--batch-size: expected an integer >= 1, got {batch}")
    if batch > args.budget:
        raise ConfigError(f"--batch-size: {batch} is larger than --budget {args.budget}; a round cannot ask "
                          "for more labels than the whole run")
    pool = open_pool(args.pool, on_error="skip" if args.skip_bad else "raise",
                     csv_field_limit=args.csv_field_limit)
    # every option is checked before the state folder gets its first byte: the asked width before embedding
    # (an absurd --dim never allocates), the real width after
    if args.dim is not None:
        if args.dim < 1:
            raise ConfigError(f"--dim: expected an integer >= 1, got {args.dim}")
        check_memory(pool, args.dim, args.budget, memory_limit(args), COLLECT_BYTES_PER_LABEL)
    features = features_from_args(args, pool, args.seed, verbose=not args.quiet)
    check_memory(pool, features.dim, args.budget, memory_limit(args), COLLECT_BYTES_PER_LABEL)
    state = SelectionState(pool=pool, features=features)
    params = {"total": args.budget} if args.selector in PLANNED else {}
    selector = make_selector(args.selector, **params)
    make_annotator, config, true_rewards = _annotator(args, state)

    res = collect(state, selector, make_annotator, budget=args.budget, batch_size=batch, seed=args.seed,
                  state_dir=args.state, config=config, verbose=not args.quiet)
    if res.recovered:
        print(f"resumed: {res.recovered}")
    elif res.resumed_labels:
        print(f"resumed after {res.resumed_labels} labels")
    if res.pending is not None:
        pending = Path(args.state) / PENDING_FILE
        print(f"paused at round {res.rounds}: {args.annotator[5:]} has no label yet for some pairs of this round; "
              f"their tasks are in {pending}.\nExport them (duelbandit export --format label-studio --tasks "
              f"{pending} ...), bring the answers back into the labels file with `duelbandit ingest --in "
              f"EXPORT --out {args.annotator[5:]} --pool {args.pool}`, and rerun this command.")
        return EXIT_PENDING
    rounds = f"{res.rounds} round" + ("" if res.rounds == 1 else "s")
    line = f"{len(res.labels)} labels in {rounds} ({args.selector}), state in {args.state}"
    if true_rewards is not None:
        reg = simple_regret(true_rewards, greedy_policy(res.theta, features.X, pool), pool)
        truth = config["annotator"]
        against = ("the judge's rewards" if truth["kind"] == "judge" else
                   "the judge's best linear fit on these features" if truth.get("theta") != "random" else
                   f"a random theta* (seed {truth['theta_seed']}, norm {truth['theta_norm']}; a dry run of the "
                   "loop, not a measure of your data)")
        line += (f"\nsimple regret of the fitted model, measured against {against}: max over prompts "
                 f"{reg.max:.4f}, mean {reg.mean:.4f}, best response on {reg.frac_optimal:.1%} of prompts")
    print(line)
    if not args.quiet:
        print(report_misspecification(state, res.labels, seed=args.seed))
    return 0


def _annotator(args: argparse.Namespace, state: SelectionState):
    """(make_annotator(gen, committed), settings recorded in the checkpoint, true rewards or None)."""
    pool, features = state.pool, state.features
    spec = args.annotator
    if spec == "simulated-bt":
        if _is_bundled(args.pool) and args.theta_seed is None:
            from duelbandit.data.textpool import text_pool_rewards
            from duelbandit.theory.experiment import best_linear_fit

            theta, _ = best_linear_fit(state, text_pool_rewards(pool))
            how: dict = {"theta": "best linear fit of the judge"}
        else:
            if not (np.isfinite(args.theta_norm) and args.theta_norm >= 0):
                raise ConfigError(f"--theta-norm: expected a finite norm >= 0, got {args.theta_norm}")
            k = args.seed if args.theta_seed is None else args.theta_seed
            v = np.random.default_rng(k).standard_normal(features.dim)
            theta = args.theta_norm * v / np.linalg.norm(v)
            how = {"theta": "random", "theta_seed": k, "theta_norm": args.theta_norm}
        return (lambda gen, done: SimulatedBT(theta, pool, features, rng=gen),
                {"annotator": {"kind": "simulated-bt", **how}}, features.X @ theta)
    if spec == "judge":
        from duelbandit.data.textpool import text_pool_rewards

        try:
            rewards = text_pool_rewards(pool)
        except RewardError as exc:
            raise ConfigError(
                f"--annotator judge: the built-in judge only scores prompts of the bundled text pool's "
                f"templates (--pool bundled); pool {pool.name!r} has one it cannot score ({exc}). Use "
                "--annotator file:LABELS for human labels, or simulated-bt for a dry run") from None
        if not (np.isfinite(args.judge_temperature) and args.judge_temperature >= 0):
            raise ConfigError(f"--judge-temperature: expected a finite value >= 0, got {args.judge_temperature}")
        return (lambda gen, done: JudgeAnnotator(rewards, pool, rng=gen, temperature=args.judge_temperature),
                {"annotator": {"kind": "judge", "temperature": args.judge_temperature}}, rewards)
    if spec.startswith("file:"):
        path = Path(spec[len("file:"):])
        if not path.name:
            raise ConfigError("--annotator file:LABELS: the path after 'file:' is empty")
        if path.exists():
            labels, _ = read_human_labels(path, pool)
        else:  # the first run of a human loop: nothing labelled yet, the run pauses on round 0's tasks
            print(f"note: {path} does not exist yet; the run will pause for the first round's labels")
            labels = Labels(np.zeros(0, np.int64), np.zeros(0), source=f"file:{path.name}")
        return (lambda gen, done: FileAnnotator(labels, pool, consumed=done.pairs, name=f"file:{path.name}"),
                {"annotator": {"kind": "file", "path": str(path)}}, None)
    raise ConfigError(f"--annotator: expected simulated-bt, judge or file:LABELS, got {spec!r}")
