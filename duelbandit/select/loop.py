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
- ``.lock``: held (``flock``) for the whole call, so a second writer fails at once (:mod:`duelbandit.io.lock`).

A round is four named steps over a small run state (:class:`_Run`): :func:`_select`, :func:`_answer`,
:func:`_append` (the log, fsync) and :func:`_commit` (fit, ``selector.update``, checkpoint).

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from duelbandit.annotate import Annotator, Labels, LabelsPending
from duelbandit.errors import ConfigError, LabelError, SelectorError
from duelbandit.io import append_jsonl, dumps, repair_torn_tail, write_json_atomic, write_text_atomic
from duelbandit.io.export import task_rows
from duelbandit.io.labels import log_rows, read_label_log
from duelbandit.io.lock import FolderLock
from duelbandit.reward import BradleyTerry
from duelbandit.select.base import Batch, SelectionState, Selector
from duelbandit.select.checkpoint import (
    FORMAT,
    check_args,
    diff_settings,
    read_checkpoint,
    same_settings,
    settings_of,
)
from duelbandit.select.checkpoint import selector_params as selector_params
from duelbandit.select.model import pooled

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


class _State:
    """The files of a state folder (or nothing, in memory)."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = None if folder is None else Path(folder)

    def path(self, name: str) -> Path:
        assert self.folder is not None
        return self.folder / name


@dataclass
class _Run:
    """What a collection carries from round to round (restored from the checkpoint on resume)."""

    state: SelectionState
    selector: Selector
    files: _State
    settings: dict
    T: int
    m_max: int
    seed: int
    sel_gen: np.random.Generator
    ann_gen: np.random.Generator
    labels: Labels
    theta: np.ndarray
    rounds: int = 0
    log_len: int = 0
    log_hash: Any = dataclasses.field(default_factory=hashlib.sha256)
    uncommitted: Labels | None = None  # labels logged after the checkpoint (a round cut short)
    first_line: int = 0  # their first line in the log
    recovered: str | None = None
    replayable: bool = True

    @property
    def n(self) -> int:
        return len(self.labels)

    def note(self, what: str) -> None:
        self.recovered = (self.recovered + "; " if self.recovered else "") + what


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
        state_dir: folder for the label log and checkpoint; None runs in memory. The folder is locked
            for the whole call (:class:`~duelbandit.io.lock.FolderLock`): a second writer fails at once.
        config: extra settings recorded in the checkpoint and compared on resume (e.g. how the annotator
            and the features were built).
        replayable: the annotator answers a batch identically when its Generator is restored (see the
            module docstring); False for callbacks and live humans.
        verbose: progress bar.

    Returns:
        :class:`CollectResult`. A file annotator that lacks labels pauses the run: ``pending`` holds the
        batch, ``pending.jsonl`` its tasks; rerun once they are labelled.

    Raises:
        ConfigError: bad budget / batch size, a corrupt checkpoint, or a state folder of other settings.
        LabelError: a label log that is foreign, edited, or disagrees with a replay of the run.
        LockedError: another live process is collecting into ``state_dir``.
        SelectorError: a selector that does not return exactly the labels asked for.
    """
    start_time = time.perf_counter()
    T, m_max, seed = check_args(budget, batch_size, seed)
    settings = settings_of(state, selector, T, m_max, seed, config)
    files = _State(state_dir)
    if files.folder is None:
        return _collect(state, selector, make_annotator, files, settings, replayable, verbose, start_time)
    files.folder.mkdir(parents=True, exist_ok=True)
    with FolderLock(files.folder, what="duelbandit collect"):
        return _collect(state, selector, make_annotator, files, settings, replayable, verbose, start_time)


def _collect(state: SelectionState, selector: Selector, make_annotator: Callable, files: _State,
             settings: dict, replayable: bool, verbose: bool, start_time: float) -> CollectResult:
    """The rounds of :func:`collect` (inside the folder lock)."""
    sel_gen, ann_gen = (np.random.default_rng(s) for s in np.random.SeedSequence(settings["seed"]).spawn(2))
    run = _Run(state=state, selector=selector, files=files, settings=settings, T=settings["budget"],
               m_max=settings["batch_size"], seed=settings["seed"], sel_gen=sel_gen, ann_gen=ann_gen,
               labels=Labels(np.zeros(0, np.int64), np.zeros(0)), theta=np.zeros(state.features.dim),
               replayable=replayable)
    committed, fresh = _restore(run) if files.folder is not None else ([], True)
    if committed:
        run.labels = Labels.concat(committed)
    resumed = run.n
    # selectors with memory get the committed rounds again (ours rebuild their model from state.labels)
    for part in committed:
        selector.update(Batch.from_indices(part.pairs, selector=selector.name), part)
    annotator = make_annotator(ann_gen, run.labels)
    if files.folder is not None and fresh:
        _checkpoint(run)

    bar = tqdm(total=run.T, initial=run.n, unit="label", desc=f"collect {selector.name}",
               disable=not verbose, leave=False)
    pending = None
    try:
        while run.n < run.T and pending is None:
            before = run.n
            pending = _round(run, annotator)
            bar.update(run.n - before)
    finally:
        bar.close()
    if pending is None and files.folder is not None and files.path(PENDING_FILE).exists():
        files.path(PENDING_FILE).unlink()
    return CollectResult(labels=run.labels, theta=run.theta, rounds=run.rounds, complete=run.n >= run.T,
                         resumed_labels=resumed, recovered=run.recovered, pending=pending,
                         seconds=time.perf_counter() - start_time)


def _restore(run: _Run) -> tuple[list[Labels], bool]:
    """Restore the run from its state folder: (labels of each committed round, whether the run starts
    afresh). A checkpoint of other settings that committed nothing (no label, empty log) holds nothing
    to lose: it is replaced instead of blocking the folder."""
    files = run.files
    for name in (CHECKPOINT_FILE, PENDING_FILE):  # temp files of a rename that never happened (kill -9)
        for stale in files.folder.glob(f".{name}.*.tmp"):
            stale.unlink()
    ckpt_path, log_path = files.path(CHECKPOINT_FILE), files.path(LABELS_FILE)
    has_log = log_path.exists() and log_path.stat().st_size > 0
    if not ckpt_path.exists():
        if has_log:
            raise ConfigError(f"{log_path} exists without {CHECKPOINT_FILE}: "
                              "not a state folder of this command (use an empty --state folder)")
        return [], True
    ckpt = read_checkpoint(ckpt_path, log_path)
    if not ckpt["n_labels"] and not has_log and diff_settings(ckpt["settings"], run.settings):
        return [], True
    same_settings(ckpt["settings"], run.settings, ckpt_path)
    run.sel_gen.bit_generator.state = ckpt["rng"]["selector"]
    run.ann_gen.bit_generator.state = ckpt["rng"]["annotator"]
    run.rounds = int(ckpt["rounds"])
    run.theta = np.asarray(ckpt["theta"], dtype=np.float64)
    if log_path.exists():
        if repair_torn_tail(log_path):
            run.note("cut an incomplete last line of labels.jsonl (killed mid-append)")
        data = log_path.read_bytes()
    elif ckpt["n_labels"]:
        raise LabelError(f"{log_path}: missing, but {ckpt_path} records {ckpt['n_labels']} labels")
    else:
        data = b""
    run.log_len = int(ckpt["log_bytes"])
    run.log_hash.update(data[:run.log_len])
    if len(data) < run.log_len or run.log_hash.hexdigest() != ckpt["log_sha256"]:
        raise LabelError(
            f"{log_path}: its first {ckpt['log_bytes']} bytes (the {ckpt['n_labels']} committed labels) "
            f"differ from what {ckpt_path} recorded: the log was edited or truncated; refusing to resume")
    return (_committed_rounds(run, log_path, int(ckpt["n_labels"])) if data else []), False


def _committed_rounds(run: _Run, log_path: Path, n_c: int) -> list[Labels]:
    """The committed labels of each round; labels logged after them become ``run.uncommitted``."""
    log = read_label_log(log_path, run.state.pool)
    if len(log) < n_c:
        raise LabelError(f"{log_path}: {len(log)} labels, but the checkpoint committed {n_c}")
    of_round = np.array([log.rows[k]["round"] for k in range(n_c)], dtype=object)
    committed = [_subset(log.labels, np.flatnonzero(of_round == r).tolist()) for r in range(run.rounds)]
    for k in range(n_c, len(log)):
        if log.rows[k]["round"] != run.rounds:
            raise LabelError(f"{log_path}:{log.lines[k]}: round {log.rows[k]['round']!r} after the "
                             f"checkpoint of round {run.rounds}; expected only labels of round {run.rounds}")
    if len(log) > n_c:
        run.uncommitted = _subset(log.labels, list(range(n_c, len(log))))
        run.first_line = log.lines[n_c]
    return committed


def _round(run: _Run, annotator: Annotator) -> Batch | None:
    """One round: select, answer, append, fit, update, checkpoint. Returns the batch when the annotator
    lacks labels (the run pauses; its tasks go to pending.jsonl), else None."""
    m = min(run.m_max, run.T - run.n)
    batch, expected = _select(run, m)
    logged, run.uncommitted = run.uncommitted, None
    k = 0 if logged is None else len(logged)
    if logged is not None and (k > m or not np.array_equal(logged.pairs, expected[:k])):
        raise LabelError(
            f"{run.files.path(LABELS_FILE) if run.files.folder else LABELS_FILE}:{run.first_line}: the {k} labels "
            f"logged after the checkpoint are not the start of round {run.rounds} as the selector replays it; "
            "the log does not belong to this run")
    try:
        round_labels, new = _answer(run, annotator, batch, expected, logged)
    except LabelsPending as exc:
        _write_pending(run, exc)
        return batch
    if k:
        run.note(f"round {run.rounds}: {k} labels were logged but not checkpointed (killed before the "
                 f"checkpoint); kept them and completed the round with {m - k} more")
    _append(run, batch, new, k)
    _commit(run, batch, round_labels)
    return None


def _select(run: _Run, m: int) -> tuple[Batch, np.ndarray]:
    st = run.state
    view = SelectionState(st.pool, st.features, labels=run.labels if run.n else None, lam=st.lam)
    batch = run.selector.select(view, m, run.sel_gen)
    if batch.size != m:
        raise SelectorError(f"{run.selector.name}: asked for {m} labels, the batch holds {batch.size}")
    return batch, batch.expanded()


def _answer(run: _Run, annotator: Annotator, batch: Batch, expected: np.ndarray,
            logged: Labels | None) -> tuple[Labels, Labels | None]:
    """(the round's labels, the labels not yet in the log). Raises LabelsPending from a file annotator."""
    m = expected.shape[0]
    k = 0 if logged is None else len(logged)
    if logged is not None and not run.replayable:
        # ask only for what the log lacks: a human is never asked twice
        new = None
        if k < m:
            new = annotator.label(Batch.from_indices(expected[k:], selector=batch.selector))
            _check_answer(new, expected[k:], annotator)
        return (logged if new is None else Labels.concat([logged, new])), new
    fresh = annotator.label(batch)
    _check_answer(fresh, expected, annotator)
    if logged is not None and not np.array_equal(fresh.y[:k], logged.y):
        raise LabelError(
            f"{run.files.path(LABELS_FILE)}:{run.first_line}: the logged labels of round {run.rounds} differ "
            "from the annotator's replay (was the annotator or its seed changed?)")
    return fresh, (_subset(fresh, list(range(k, m))) if k else fresh)


def _write_pending(run: _Run, exc: LabelsPending) -> None:
    if run.files.folder is not None:
        rows = task_rows(run.state.pool, exc.missing, tag=f"r{run.rounds}-")
        write_text_atomic(run.files.path(PENDING_FILE), "".join(dumps(r) + "\n" for r in rows))


def _append(run: _Run, batch: Batch, new: Labels | None, k: int) -> None:
    """Append the round's new labels to the log (fsync) before anything else is committed."""
    if new is None or not len(new) or run.files.folder is None:
        return
    weights = batch.info.get("design_weight")
    dw = None if weights is None else {int(p): float(w) for p, w in zip(batch.pairs, weights)}
    pairs, times = np.unique(batch.expanded(), return_counts=True)
    rows = log_rows(new, run.state.pool, start_index=run.n + k, round=run.rounds, selector=run.selector.name,
                    design_weight=dw, fingerprint=run.settings["pool"]["fingerprint"],
                    scheduled=dict(zip(pairs.tolist(), times.tolist())))
    for row in rows:
        row["seed"] = run.seed
    append_jsonl(run.files.path(LABELS_FILE), rows)


def _commit(run: _Run, batch: Batch, round_labels: Labels) -> None:
    """Refit on all labels, update the selector, and checkpoint the round (log length and hash)."""
    run.labels = Labels.concat([run.labels, round_labels]) if run.n else round_labels
    run.theta = _fit(run.state, run.labels)
    run.selector.update(batch, round_labels)
    run.rounds += 1
    if run.files.folder is None:
        return
    with open(run.files.path(LABELS_FILE), "rb") as f:  # hash only what this round appended
        f.seek(run.log_len)
        tail = f.read()
    run.log_len += len(tail)
    run.log_hash.update(tail)
    _checkpoint(run)


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


def _checkpoint(run: _Run) -> None:
    write_json_atomic(run.files.path(CHECKPOINT_FILE), {
        "format": FORMAT,
        "settings": run.settings,
        "pool_name": run.state.pool.name,  # where the pool was read this time (not compared on resume)
        "rounds": run.rounds,
        "n_labels": run.n,
        "complete": run.n >= run.T,
        "log_bytes": run.log_len,
        "log_sha256": run.log_hash.hexdigest(),
        "rng": {"selector": run.sel_gen.bit_generator.state, "annotator": run.ann_gen.bit_generator.state},
        "theta": run.theta.tolist(),
    })
