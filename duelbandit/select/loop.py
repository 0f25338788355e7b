"""The collection loop: rounds of select -> annotate -> log -> fit -> update, resumable after a crash.

One round asks the selector for m = min(batch_size, budget - n) labels given the n labels so far, has
the annotator answer them, appends them to the label log (fsync), refits the Bradley–Terry model on all
labels, hands the round to ``selector.update`` and writes the checkpoint (temp file + rename).

State folder (``state_dir``; None keeps everything in memory):

- ``labels.jsonl``: the label log (:mod:`duelbandit.io.labels`), the source of truth. Every line carries
  its index, round, pair id, label, source, seed and the pool's fingerprint (a foreign log is refused).
- ``checkpoint.json``: the run's settings; rounds and labels committed; the byte length and sha256 of
  the committed part of the log; the states of the two Generators (selection, annotator) as
  ``bit_generator.state`` (plain JSON); theta_hat. Written once before the first round, then after each.
- ``pending.jsonl``: the tasks a file annotator is waiting for (human loop; see ``docs/human_loop.md``).

Resume (rerun the same call): the settings must match the checkpoint's. The committed log prefix must
hash to the checkpointed sha256 (an edited log is refused). A torn last line (killed mid-append) is cut
off. Labels after the committed prefix belong to the round that was running when the process died
(killed between the append and the checkpoint): the loop restores the Generators, which makes the
selector ask for the very same batch, checks that the logged labels are a prefix of it (pair by pair),
and completes the round:

- replayable annotators (simulated, judge, file: deterministic given their restored state) answer the
  whole batch again; their answers must equal the logged ones, and only the missing tail is appended;
- others (a callback, a human) are asked only for the missing tail: no logged label is asked twice.

Either way no label is lost or duplicated, and the final log, checkpoint and model are byte-for-byte
those of an uninterrupted run with the same seed. Selectors that keep state receive ``update()`` for
every committed round again on resume (the selectors of this package rebuild their model from the labels).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from duelbandit.annotate import Annotator, Labels, LabelsPending
from duelbandit.errors import ConfigError, LabelError, SelectorError
from duelbandit.io import append_jsonl, dumps, repair_torn_tail, write_json_atomic, write_text_atomic
from duelbandit.io.export import task_rows
from duelbandit.io.labels import log_rows, read_label_log
from duelbandit.reward import BradleyTerry
from duelbandit.select.base import Batch, SelectionState, Selector
from duelbandit.select.model import pooled

FORMAT = "duelbandit-collect/1"
LABELS_FILE = "labels.jsonl"
CHECKPOINT_FILE = "checkpoint.json"
PENDING_FILE = "pending.jsonl"


@dataclass(frozen=True)
class CollectResult:
    """What a (possibly resumed, possibly paused) collection run ended with.

    Attributes:
        labels: every committed label, in order.
        theta: theta_hat fitted on them (zeros with none).
        rounds: rounds committed.
        complete: the budget is spent.
        resumed_labels: labels that were already committed when this call started.
        recovered: how an interrupted round was completed on resume (None when there was none).
        pending: the batch a file annotator is waiting for (then ``complete`` is False), else None.
        seconds: wall time of this call.
    """

    labels: Labels
    theta: np.ndarray
    rounds: int
    complete: bool
    resumed_labels: int = 0
    recovered: str | None = None
    pending: Batch | None = None
    seconds: float = 0.0


def _check_int(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ConfigError(f"{name}: expected an integer >= 1, got {v!r}")
    return int(v)


def selector_params(selector: Selector) -> dict:
    """The init parameters of a dataclass selector (for the checkpoint), else {}."""
    if dataclasses.is_dataclass(selector):
        return {f.name: getattr(selector, f.name) for f in dataclasses.fields(selector) if f.init}
    return {}


def _json_norm(obj: object) -> object:
    return json.loads(dumps(obj))


class _State:
    """The files of a state folder (or nothing, in memory)."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = None if folder is None else Path(folder)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        assert self.folder is not None
        return self.folder / name


def collect(
    state: SelectionState,
    selector: Selector,
    make_annotator: Callable[[np.random.Generator, Labels], Annotator],
    *,
    budget: int,
    batch_size: int,
    seed: int,
    state_dir: str | Path | None = None,
    config: dict | None = None,
    replayable: bool = True,
    verbose: bool = True,
) -> CollectResult:
    """Collect ``budget`` labels in rounds of ``batch_size`` (see the module docstring), resuming from
    ``state_dir`` when it holds an interrupted or paused run of the same settings.

    Args:
        state: the pool, its features and lambda (its ``labels`` are ignored: the loop owns them).
        selector: any :class:`~duelbandit.select.Selector`.
        make_annotator: builds the annotator once, from the loop's annotator Generator and the labels
            already committed (a file annotator skips those); its draws must come from that Generator.
        budget: total labels T >= 1.
        batch_size: labels per round m, 1 <= m <= T.
        seed: seeds the two Generators (selection, annotator) through ``SeedSequence(seed).spawn(2)``.
        state_dir: folder for the label log and checkpoint; None runs in memory.
        config: extra settings recorded in the checkpoint and compared on resume (e.g. how the annotator
            and the features were built).
        replayable: the annotator answers a batch identically when its Generator is restored (see the
            module docstring); False for callbacks and live humans.
        verbose: progress bar.

    Returns:
        :class:`CollectResult`. A file annotator that lacks labels pauses the run: ``pending`` holds the
        batch, ``pending.jsonl`` its tasks; rerun once they are labelled.

    Raises:
        ConfigError: bad budget / batch size, or a state folder of other settings.
        LabelError: a label log that is foreign, edited, or disagrees with a replay of the run.
        SelectorError: a selector that does not return exactly the labels asked for.
    """
    start_time = time.perf_counter()
    T = _check_int("budget", budget)
    m_max = _check_int("batch_size", batch_size)
    if m_max > T:
        raise ConfigError(f"batch_size: {m_max} is larger than the budget {T}; a round cannot ask for more "
                          "labels than the whole run")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed: expected an integer, got {seed!r}")
    pool, features = state.pool, state.features
    settings = _json_norm({
        "selector": selector.name,
        "selector_params": selector_params(selector),
        "budget": T,
        "batch_size": m_max,
        "seed": int(seed),
        "lam": state.lam,
        "pool": {"name": pool.name, "fingerprint": pool.fingerprint(), "prompts": pool.n_prompts,
                 "candidate_pairs": pool.n_pairs},
        "features": {"name": features.name, "dim": features.dim, "config": features.config},
        **(config or {}),
    })
    sel_gen, ann_gen = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2))
    files = _State(state_dir)

    committed: list[Labels] = []
    rounds = 0
    log_len, log_hash = 0, hashlib.sha256()
    uncommitted: Labels | None = None
    first_line = 0
    recovered = None
    theta = np.zeros(features.dim)
    if files.folder is not None:
        for stale in files.folder.glob(f".{CHECKPOINT_FILE}.*.tmp"):  # a rename that never happened
            stale.unlink()
        ckpt_path, log_path = files.path(CHECKPOINT_FILE), files.path(LABELS_FILE)
        if ckpt_path.exists():
            ckpt = json.loads(ckpt_path.read_text(encoding="utf-8"))
            if ckpt.get("format") != FORMAT:
                raise ConfigError(f"{ckpt_path}: not a duelbandit collect checkpoint (format "
                                  f"{ckpt.get('format')!r}, expected {FORMAT!r})")
            _same_settings(ckpt["settings"], settings, ckpt_path)
            sel_gen.bit_generator.state = ckpt["rng"]["selector"]
            ann_gen.bit_generator.state = ckpt["rng"]["annotator"]
            rounds = int(ckpt["rounds"])
            theta = np.asarray(ckpt["theta"], dtype=np.float64)
            if log_path.exists():
                if repair_torn_tail(log_path):
                    recovered = "cut an incomplete last line of labels.jsonl (killed mid-append)"
                data = log_path.read_bytes()
            elif ckpt["n_labels"]:
                raise LabelError(f"{log_path}: missing, but {ckpt_path} records {ckpt['n_labels']} labels")
            else:
                data = b""
            log_len = int(ckpt["log_bytes"])
            log_hash.update(data[:log_len])
            if len(data) < log_len or log_hash.hexdigest() != ckpt["log_sha256"]:
                raise LabelError(
                    f"{log_path}: its first {ckpt['log_bytes']} bytes (the {ckpt['n_labels']} committed labels) "
                    f"differ from what {ckpt_path} recorded: the log was edited or truncated; refusing to resume")
            if data:
                log = read_label_log(log_path, pool)
                n_c = int(ckpt["n_labels"])
                if len(log) < n_c:
                    raise LabelError(f"{log_path}: {len(log)} labels, but the checkpoint committed {n_c}")
                of_round = np.array([log.rows[k]["round"] for k in range(n_c)], dtype=object)
                for r in range(rounds):
                    committed.append(_subset(log.labels, np.flatnonzero(of_round == r).tolist()))
                for k in range(n_c, len(log)):
                    if log.rows[k]["round"] != rounds:
                        raise LabelError(f"{log_path}:{log.lines[k]}: round {log.rows[k]['round']!r} after the "
                                         f"checkpoint of round {rounds}; expected only labels of round {rounds}")
                if len(log) > n_c:
                    uncommitted = _subset(log.labels, list(range(n_c, len(log))))
                    first_line = log.lines[n_c]
        elif files.path(LABELS_FILE).exists() and files.path(LABELS_FILE).stat().st_size:
            raise ConfigError(f"{files.path(LABELS_FILE)} exists without {CHECKPOINT_FILE}: "
                              "not a state folder of this command (use an empty --state folder)")
    all_labels = Labels.concat(committed) if committed else Labels(np.zeros(0, np.int64), np.zeros(0))
    n = len(all_labels)
    resumed = n
    # selectors with memory get the committed rounds again (ours rebuild their model from state.labels)
    for part in committed:
        selector.update(Batch.from_indices(part.pairs, selector=selector.name), part)
    annotator = make_annotator(ann_gen, all_labels)

    if files.folder is not None and not files.path(CHECKPOINT_FILE).exists():
        _write_checkpoint(files, settings, rounds, n, log_len, log_hash, sel_gen, ann_gen, theta,
                          complete=False)

    bar = tqdm(total=T, initial=n, unit="label", desc=f"collect {selector.name}", disable=not verbose,
               leave=False)
    pending = None
    try:
        while n < T:
            m = min(m_max, T - n)
            view = SelectionState(pool, features, labels=all_labels if n else None, lam=state.lam)
            batch = selector.select(view, m, sel_gen)
            if batch.size != m:
                raise SelectorError(f"{selector.name}: asked for {m} labels, the batch holds {batch.size}")
            expected = batch.expanded()
            logged = uncommitted
            uncommitted = None
            k = 0 if logged is None else len(logged)
            if logged is not None and (k > m or not np.array_equal(logged.pairs, expected[:k])):
                raise LabelError(
                    f"{files.path(LABELS_FILE)}:{first_line}: the {k} labels logged after the checkpoint "
                    f"are not the start of round {rounds} as the selector replays it; the log does not "
                    "belong to this run")
            try:
                if logged is not None and not replayable:
                    # ask only for what the log lacks: a human is never asked twice
                    new = None
                    if k < m:
                        new = annotator.label(Batch.from_indices(expected[k:], selector=batch.selector))
                        _check_answer(new, expected[k:], annotator)
                    round_labels = logged if new is None else Labels.concat([logged, new])
                else:
                    fresh = annotator.label(batch)
                    _check_answer(fresh, expected, annotator)
                    if logged is not None and not np.array_equal(fresh.y[:k], logged.y):
                        raise LabelError(
                            f"{files.path(LABELS_FILE)}:{first_line}: the logged labels of round {rounds} differ "
                            "from the annotator's replay (was the annotator or its seed changed?)")
                    round_labels = fresh
                    new = _subset(fresh, list(range(k, m))) if k else fresh
            except LabelsPending as exc:
                pending = batch
                if files.folder is not None:
                    rows = task_rows(pool, exc.missing, tag=f"r{rounds}-")
                    write_text_atomic(files.path(PENDING_FILE), "".join(dumps(r) + "\n" for r in rows))
                break
            if k:
                recovered = (recovered + "; " if recovered else "") + (
                    f"round {rounds}: {k} labels were logged but not checkpointed (killed before the "
                    f"checkpoint); kept them and completed the round with {m - k} more")
            if new is not None and len(new) and files.folder is not None:
                weights = batch.info.get("design_weight")
                dw = None if weights is None else {int(p): float(w) for p, w in zip(batch.pairs, weights)}
                rows = log_rows(new, pool, start_index=n + k, round=rounds, selector=selector.name,
                                design_weight=dw, fingerprint=settings["pool"]["fingerprint"])
                for row in rows:
                    row["seed"] = int(seed)
                append_jsonl(files.path(LABELS_FILE), rows)
            all_labels = Labels.concat([all_labels, round_labels]) if n else round_labels
            n += m
            theta = _fit(state, all_labels)
            selector.update(batch, round_labels)
            rounds += 1
            if files.folder is not None:
                with open(files.path(LABELS_FILE), "rb") as f:  # hash only what this round appended
                    f.seek(log_len)
                    tail = f.read()
                log_len += len(tail)
                log_hash.update(tail)
                _write_checkpoint(files, settings, rounds, n, log_len, log_hash, sel_gen, ann_gen, theta,
                                  complete=n >= T)
            bar.update(m)
    finally:
        bar.close()
    if pending is None and files.folder is not None and files.path(PENDING_FILE).exists():
        files.path(PENDING_FILE).unlink()
    return CollectResult(labels=all_labels, theta=theta, rounds=rounds, complete=n >= T,
                         resumed_labels=resumed, recovered=recovered, pending=pending,
                         seconds=time.perf_counter() - start_time)


def _fit(state: SelectionState, labels: Labels) -> np.ndarray:
    """theta_hat on all labels (repeats pooled), materialising only the labelled pairs' differences."""
    u, n, y = pooled(labels, len(state.candidates))
    B = state.candidates.differences(state.features.X, u).astype(np.float64, copy=False)
    return BradleyTerry(lam=state.lam).fit(B, y, sample_weight=n).coef_


def _subset(labels: Labels, index: list[int]) -> Labels:
    ix = np.asarray(index, dtype=np.int64)
    ann = None if labels.annotator is None else tuple(labels.annotator[k] for k in index)
    return Labels(labels.pairs[ix], labels.y[ix], source=labels.source, seed=labels.seed, annotator=ann)


def _check_answer(labels: Labels, expected: np.ndarray, annotator: Annotator) -> None:
    if len(labels) != expected.shape[0] or not np.array_equal(labels.pairs, expected):
        raise LabelError(f"annotator {getattr(annotator, 'name', annotator)!r}: expected one label per requested "
                         f"label ({expected.shape[0]}) in batch order, got {len(labels)}")


def _diff(old: object, new: object, where: str = "") -> list[str]:
    """Dotted paths of the leaves that differ between two JSON values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += _diff(old.get(key), new.get(key), f"{where}.{key}" if where else str(key))
        return out
    return [] if old == new else [f"{where}: {_short(old)} in the checkpoint, {_short(new)} now"]


def _same_settings(old: dict, new: dict, where: Path) -> None:
    diff = sorted(_diff(old, new), key=lambda line: not line.startswith("pool."))  # the pool first
    if not diff:
        return
    more = f"; and {len(diff) - 4} more" if len(diff) > 4 else ""
    raise ConfigError(f"{where}: this state folder holds a run with other settings ({'; '.join(diff[:4])}{more}); "
                      "rerun with the same settings to resume, or use another --state folder")


def _short(v: object) -> str:
    s = json.dumps(v, sort_keys=True)
    return s if len(s) <= 60 else s[:57] + "..."


def _write_checkpoint(files: _State, settings: dict, rounds: int, n: int, log_len: int, log_hash,
                      sel_gen: np.random.Generator, ann_gen: np.random.Generator, theta: np.ndarray,
                      *, complete: bool) -> None:
    write_json_atomic(files.path(CHECKPOINT_FILE), {
        "format": FORMAT,
        "settings": settings,
        "rounds": rounds,
        "n_labels": n,
        "complete": complete,
        "log_bytes": log_len,
        "log_sha256": log_hash.hexdigest(),
        "rng": {"selector": sel_gen.bit_generator.state, "annotator": ann_gen.bit_generator.state},
        "theta": theta.tolist(),
    })
